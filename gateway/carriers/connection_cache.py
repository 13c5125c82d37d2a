"""A short-lived in-process cache of carrier connections, so ingest does not read them per request.

Only connections that exist are cached (unknown ids cannot fill it). A process that changes or
deletes a connection publishes that on Redis (CARRIER_CONNECTION_CHANGES); every gateway process
listens and drops its copy at once, so a rotated secret or a deleted connection takes effect
everywhere within a second. While Redis is away the entries still expire after TTL_S, and a
listener that had to reconnect drops everything (it may have missed a change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Final

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.carriers.store import CarrierConnection, get_connection
from gateway.platform.names import CARRIER_CONNECTION_CHANGES
from gateway.platform.outages import Backoff

log = logging.getLogger(__name__)

TTL_S: Final = 30.0  # the fallback when a change notice cannot reach this process
MAX_ENTRIES: Final = 10_000


class ConnectionCache:
    def __init__(
        self, engine: AsyncEngine, redis: Redis | None = None, *, ttl_s: float = TTL_S
    ) -> None:
        """`redis`: where changes are announced and heard (None: the TTL alone)."""
        self._engine = engine
        self._redis = redis
        self._ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], tuple[float, CarrierConnection]] = OrderedDict()
        self._listener: asyncio.Task[None] | None = None

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

    async def changed(self, connection_id: str, carrier: str) -> None:
        """A connection was changed or deleted: drop it here, and tell every other process."""
        self._entries.pop((connection_id, carrier), None)
        if self._redis is None:
            return
        try:
            await self._redis.publish(CARRIER_CONNECTION_CHANGES, f"{connection_id} {carrier}")
        except Exception as exc:  # Redis away: other processes catch up within TTL_S
            log.warning("could not announce a carrier connection change (%s)", type(exc).__name__)

    def start(self) -> None:
        if self._redis is not None:
            self._listener = asyncio.create_task(self._listen(self._redis), name="connections")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self, redis: Redis) -> None:
        backoff = Backoff(0.5, TTL_S)
        while True:
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CARRIER_CONNECTION_CHANGES)
                    self._entries.clear()  # changes may have been missed while unsubscribed
                    backoff.reset()
                    async for message in pubsub.listen():
                        self._drop(message.get("data"))
            except Exception as exc:
                delay = backoff.next_delay_s()
                log.warning(
                    "carrier connection changes: listener lost Redis (%s); again in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    def _drop(self, data: object) -> None:
        if isinstance(data, bytes):
            data = data.decode(errors="replace")
        if isinstance(data, str):
            connection_id, _, carrier = data.partition(" ")
            self._entries.pop((connection_id, carrier), None)


CONNECTIONS: Final = web.AppKey("connections", ConnectionCache)
