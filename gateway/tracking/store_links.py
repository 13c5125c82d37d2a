"""Tracking links: keys from the database, the shipment's generation, the public URL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.domain.events import Status
from gateway.platform.db import READ_ONLY
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import shipments
from gateway.tracking import links
from gateway.tracking.tables import link_keys

KID_MAX_CHARS: Final = 16  # link_keys.kid
FIRST_KID: Final = "k1"


async def signing_keys(conn: AsyncConnection) -> tuple[str, dict[str, bytes]]:
    """(active kid, every kid's key); makes the first key on first use."""
    query = sa.select(link_keys).order_by(link_keys.c.created_at, link_keys.c.kid)
    rows = (await conn.execute(query)).all()
    if not rows:
        # A fixed first kid: processes racing to create it agree on one key, not one each.
        await conn.execute(
            insert_ignore(
                link_keys,
                conn.dialect.name,
                kid=FIRST_KID,
                secret=secrets.token_bytes(32),
                created_at=datetime.now(UTC),
            )
        )
        rows = (await conn.execute(query)).all()
    return rows[-1].kid, {row.kid: row.secret for row in rows}


async def mint_token(
    conn: AsyncConnection, shipment_id: str, *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh token for the shipment's current link generation, and when it expires.

    The expiry is 90 days on, or 30 days after delivery when the shipment is delivered (then it
    may already be past: callers that show the link check `expires_at`). Call it inside a
    committed transaction: the first call ever creates the signing key.
    """
    now = now or datetime.now(UTC)
    row = (
        await conn.execute(
            sa.select(shipments.c.link_generation, shipments.c.status, shipments.c.status_at).where(
                shipments.c.id == shipment_id
            )
        )
    ).one()
    kid, keys = await signing_keys(conn)
    expires_at = links.expiry(now, delivered_at(row.status, row.status_at))
    return links.mint(keys[kid], kid, shipment_id, row.link_generation, expires_at), expires_at


def delivered_at(status: str, status_at: datetime | None) -> datetime | None:
    return status_at if status == Status.DELIVERED.value else None


async def revoke_all(conn: AsyncConnection, tenant_id: str, shipment_id: str) -> bool:
    """Ends every link minted so far (the next request sees it). False: no such shipment."""
    result = await conn.execute(
        shipments.update()
        .where(shipments.c.id == shipment_id, shipments.c.tenant_id == tenant_id)
        .values(link_generation=shipments.c.link_generation + 1)
    )
    return bool(result.rowcount)


def tracking_url(public_url: str, token: str) -> str:
    return f"{public_url}/t/{token}"


class KeyRing:
    """Verification keys cached per process, so a badly signed token costs no query.

    Keys are only ever added (rotation keeps the old ones), so a kid missing from the cache is
    looked up once by primary key (another process may have just made it) and then kept.
    """

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    async def verify(
        self, engine: AsyncEngine, token: str, now: datetime
    ) -> links.LinkClaims | None:
        kid = links.key_id(token)
        if kid is None or len(kid) > KID_MAX_CHARS:
            return None
        if kid not in self._keys:
            async with engine.connect() as conn:
                await conn.execution_options(**{READ_ONLY: True})
                query = sa.select(link_keys.c.secret).where(link_keys.c.kid == kid)
                secret = (await conn.execute(query)).scalar_one_or_none()
            if secret is None:
                return None
            self._keys[kid] = secret
        return links.verify(token, self._keys, now)


async def current_tracking_url(
    conn: AsyncConnection, public_url: str, shipment_id: str, now: datetime
) -> str | None:
    """A working link for the shipment, or None once links have ended (30 days after delivery)."""
    token, expires_at = await mint_token(conn, shipment_id, now=now)
    return tracking_url(public_url, token) if expires_at > now else None
