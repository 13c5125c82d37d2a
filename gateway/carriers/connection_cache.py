"""A short-lived in-process cache of carrier connections, so ingest does not read them per request.

Only connections that exist are cached (unknown ids cannot fill it). A secret rotation or a
deleted connection takes effect in every process within TTL_S.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.carriers.store import CarrierConnection, get_connection

TTL_S: Final = 30.0
MAX_ENTRIES: Final = 10_000


class ConnectionCache:
    def __init__(self, engine: AsyncEngine, *, ttl_s: float = TTL_S) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], tuple[float, CarrierConnection]] = OrderedDict()

    async def get(self, connection_id: str, carrier: str) -> CarrierConnection | None:
        key = (connection_id, carrier)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        async with self._engine.connect() as conn:
            connection = await get_connection(conn, connection_id, carrier)
        if connection is None:
            self._entries.pop(key, None)
            return None
        self._entries[key] = (now, connection)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return connection

    def forget(self, connection_id: str, carrier: str) -> None:
        """Drop a changed or deleted connection here at once (other processes: within TTL_S)."""
        self._entries.pop((connection_id, carrier), None)


CONNECTIONS: Final = web.AppKey("connections", ConnectionCache)
