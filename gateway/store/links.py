"""Tracking links: keys from the database, the shipment's generation, the public URL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import links
from gateway.store.tables import link_keys, shipments

# Upper bound baked into every token; the page also ends access 30 days after delivery.
TOKEN_LIFETIME: Final = timedelta(days=90)


async def signing_keys(conn: AsyncConnection) -> tuple[str, dict[str, bytes]]:
    """(active kid, every kid's key); makes the first key on first use."""
    rows = (await conn.execute(sa.select(link_keys).order_by(link_keys.c.created_at))).all()
    if not rows:
        kid = secrets.token_hex(4)
        secret = secrets.token_bytes(32)
        await conn.execute(
            link_keys.insert().values(kid=kid, secret=secret, created_at=datetime.now(UTC))
        )
        return kid, {kid: secret}
    return rows[-1].kid, {row.kid: row.secret for row in rows}


async def mint_token(
    conn: AsyncConnection, shipment_id: str, *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh token for the shipment's current link generation, and when it expires."""
    now = now or datetime.now(UTC)
    generation = (
        await conn.execute(
            sa.select(shipments.c.link_generation).where(shipments.c.id == shipment_id)
        )
    ).scalar_one()
    kid, keys = await signing_keys(conn)
    expires_at = (now + TOKEN_LIFETIME).replace(microsecond=0)
    return links.mint(keys[kid], kid, shipment_id, generation, expires_at), expires_at


def tracking_url(public_url: str, token: str) -> str:
    return f"{public_url}/t/{token}"
