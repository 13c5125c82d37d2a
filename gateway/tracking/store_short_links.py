"""Short tracking links in the database: create, hand out the current one, look one up (cached).

A row never changes after it is written (revoking bumps the shipment's link generation instead),
so every process may keep the rows it has read: they all agree, and a revocation still applies
on the next request because the page compares the generation with the shipment row it loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.platform.db import READ_ONLY
from gateway.shipments.tables import shipments
from gateway.tracking import links, short_links
from gateway.tracking.short_links import LinkTarget
from gateway.tracking.store_links import delivered_at, tracking_url
from gateway.tracking.tables import tracking_links

CACHED_LINKS: Final = 50_000  # about 10 MB of rows per process


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    expires_at: datetime


async def create(conn: AsyncConnection, shipment_id: str, now: datetime) -> IssuedLink | None:
    """A brand-new link for the shipment's current generation (POST .../tracking-link).

    None once links have ended (30 days after delivery): nothing is written then.
    """
    generation, delivered = await _link_state(conn, shipment_id)
    ends = links.expiry(now, delivered)
    return await _insert(conn, shipment_id, generation, ends, now) if ends > now else None


async def current(conn: AsyncConnection, shipment_id: str, now: datetime) -> IssuedLink | None:
    """The link to put in a message or the shipment JSON: a young one again, else a new one.

    None once links have ended. Call it in a transaction: it may write. Two racing callers may
    each create one; both work.
    """
    generation, delivered = await _link_state(conn, shipment_id)
    ends = links.expiry(now, delivered)
    if ends <= now:
        return None
    query = (
        sa.select(tracking_links.c.token, tracking_links.c.created_at, tracking_links.c.expires_at)
        .where(
            tracking_links.c.shipment_id == shipment_id,
            tracking_links.c.generation == generation,
            tracking_links.c.created_at > now - short_links.REUSE_FOR,
        )
        .order_by(tracking_links.c.created_at.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    if row is not None and short_links.reusable(row.created_at, row.expires_at, now):
        return IssuedLink(row.token, min(row.expires_at, ends))
    return await _insert(conn, shipment_id, generation, ends, now)


async def current_tracking_url(
    conn: AsyncConnection, public_url: str, shipment_id: str, now: datetime
) -> str | None:
    """The short link as a URL, or None once links have ended (30 days after delivery)."""
    issued = await current(conn, shipment_id, now)
    return tracking_url(public_url, issued.token) if issued else None


async def _link_state(conn: AsyncConnection, shipment_id: str) -> tuple[int, datetime | None]:
    query = sa.select(shipments.c.link_generation, shipments.c.status, shipments.c.status_at)
    row = (await conn.execute(query.where(shipments.c.id == shipment_id))).one()
    return row.link_generation, delivered_at(row.status, row.status_at)


async def _insert(
    conn: AsyncConnection, shipment_id: str, generation: int, expires_at: datetime, now: datetime
) -> IssuedLink:
    token = short_links.new_token()  # 130 random bits: a collision is not a case to handle
    await conn.execute(
        tracking_links.insert().values(
            token=token,
            shipment_id=shipment_id,
            generation=generation,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return IssuedLink(token, expires_at)


class ShortLinkCache:
    """Rows read so far, per process (they never change); an unknown token costs one lookup."""

    def __init__(self, size: int = CACHED_LINKS) -> None:
        self._rows: LRUCache[str, LinkTarget] = LRUCache(maxsize=size)

    async def resolve(self, engine: AsyncEngine, token: str, now: datetime) -> LinkTarget | None:
        """The target of an unexpired short token, else None (unknown and expired alike)."""
        if not short_links.is_short(token):
            return None
        target = self._rows.get(token)
        if target is None:
            target = await _lookup(engine, token)
            if target is None:
                return None  # not cached: the link may be committed by another process next
            self._rows[token] = target
        return target if now < target.expires_at else None


async def _lookup(engine: AsyncEngine, token: str) -> LinkTarget | None:
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        query = sa.select(
            tracking_links.c.shipment_id, tracking_links.c.generation, tracking_links.c.expires_at
        ).where(tracking_links.c.token == token)
        row = (await conn.execute(query)).first()
    return None if row is None else LinkTarget(row.shipment_id, row.generation, row.expires_at)
