"""Which shipment a tracking-link token opens, for both kinds of link the gateway has issued.

New links are short random tokens looked up in the database (store_short_links.py); links sent
before those existed are signed tokens checked with the HMAC keys (store_links.py) and keep
working until they expire. Either way the answer is a LinkTarget; the caller still compares its
generation with the shipment's (revocation) and the delivery date (the 30-day end).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.tracking.short_links import LinkTarget, is_short
from gateway.tracking.store_links import KeyRing
from gateway.tracking.store_short_links import ShortLinkCache

MAX_TOKEN_CHARS: Final = 200  # longer than any signed token: refused before any work


class LinkResolver:
    """One per process: the signing keys and the short links it has read so far."""

    def __init__(self) -> None:
        self._keys = KeyRing()
        self._short = ShortLinkCache()

    async def resolve(self, engine: AsyncEngine, token: str, now: datetime) -> LinkTarget | None:
        """The target of a valid, unexpired token of either kind, else None."""
        if is_short(token):
            return await self._short.resolve(engine, token, now)
        if len(token) > MAX_TOKEN_CHARS:
            return None
        claims = await self._keys.verify(engine, token, now)
        if claims is None:
            return None
        return LinkTarget(claims.shipment_id, claims.generation, claims.expires_at)
