"""In-process caches of per-store configuration that rarely changes (notification rules, store
webhook endpoints), so the worker does not read it again for every event.

Invalidation: a write drops the writing process's copy at once (`TenantCache.drop`, called by
the area's store function inside the transaction), and after commit the route announces it on
Redis (`announce`), where every process's `ConfigListener` hears it and drops its copy; that
also covers a read that re-filled this process's copy before the write committed. While Redis
is away, entries still expire after TTL_S, and a listener that had to reconnect drops all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

from redis.asyncio import Redis

from gateway.platform.names import TENANT_CONFIG_CHANGES
from gateway.platform.outages import Backoff

log = logging.getLogger(__name__)

TTL_S: Final = 5.0  # how stale a copy may get when a change notice cannot reach this process
MAX_ENTRIES: Final = 10_000
ALL: Final = "*"  # a change that names no store: drop every entry of that cache
_T = TypeVar("_T")
_CACHES: dict[str, TenantCache[object]] = {}


class TenantCache(Generic[_T]):
    def __init__(self, name: str, ttl_s: float = TTL_S) -> None:
        self.name = name
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, _T]] = {}
        _CACHES[name] = self  # type: ignore[assignment]

    async def get(self, tenant_id: str, load: Callable[[], Awaitable[_T]]) -> _T:
        now = time.monotonic()
        hit = self._entries.get(tenant_id)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        value = await load()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # cheap and rare: a store's entry is one query away
        self._entries[tenant_id] = (now, value)
        return value

    def drop(self, tenant_id: str = ALL) -> None:
        if tenant_id == ALL:
            self._entries.clear()
        else:
            self._entries.pop(tenant_id, None)


def drop_everywhere_local(name: str, tenant_id: str) -> None:
    cache = _CACHES.get(name)
    if cache is not None:
        cache.drop(tenant_id)


async def announce(redis: Redis, name: str, tenant_id: str = ALL) -> None:
    """After commit: tell every process (this one too) to drop its copy."""
    drop_everywhere_local(name, tenant_id)
    try:
        await redis.publish(TENANT_CONFIG_CHANGES, f"{name} {tenant_id}")
    except Exception as exc:  # Redis away: other processes catch up within TTL_S
        log.warning("could not announce a configuration change (%s)", type(exc).__name__)


class ConfigListener:
    """Hears `announce` from every process and drops the named entries here."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="tenant-config-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = Backoff(0.5, TTL_S)
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(TENANT_CONFIG_CHANGES)
                    for cache in _CACHES.values():  # changes may have been missed meanwhile
                        cache.drop()
                    backoff.reset()
                    async for message in pubsub.listen():
                        _heard(message.get("data"))
            except Exception as exc:
                delay = backoff.next_delay_s()
                log.warning(
                    "configuration changes: listener lost Redis (%s); again in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)


def _heard(data: object) -> None:
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    if isinstance(data, str):
        name, _, tenant_id = data.partition(" ")
        drop_everywhere_local(name, tenant_id or ALL)
