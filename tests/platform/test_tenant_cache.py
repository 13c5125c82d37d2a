"""Per-store configuration cached in-process: a change announced anywhere drops every copy."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from gateway.platform.tenant_cache import ConfigListener, TenantCache, announce


class Loads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> int:
        self.count += 1
        return self.count


async def test_a_fresh_copy_is_read_once_until_dropped() -> None:
    cache = TenantCache[int]("test_fresh")
    load = Loads()

    assert [await cache.get("ten_a", load) for _ in range(3)] == [1, 1, 1]
    cache.drop("ten_a")
    assert await cache.get("ten_a", load) == 2


async def test_a_copy_expires_after_its_ttl() -> None:
    cache = TenantCache[int]("test_ttl", ttl_s=0.0)
    load = Loads()

    assert [await cache.get("ten_a", load) for _ in range(2)] == [1, 2]


async def test_a_change_announced_by_another_process_drops_the_copy_here(redis: Redis) -> None:
    cache = TenantCache[int]("test_heard")
    load = Loads()
    listener = ConfigListener(redis)
    listener.start()
    try:
        for _ in range(100):  # until the listener has subscribed
            if await redis.pubsub_numsub("lastmile:tenant-config:changed") != [
                (b"lastmile:tenant-config:changed", 0)
            ]:
                break
            await asyncio.sleep(0.02)
        assert await cache.get("ten_a", load) == 1
        assert await cache.get("ten_b", load) == 2

        await redis.publish("lastmile:tenant-config:changed", "test_heard ten_a")  # elsewhere
        for _ in range(100):
            if await cache.get("ten_a", load) != 1:
                break
            await asyncio.sleep(0.02)

        assert await cache.get("ten_a", load) == 3  # read again
        assert await cache.get("ten_b", load) == 2  # another store's copy stays
        await announce(redis, "test_heard")  # every store
        assert await cache.get("ten_b", load) == 4
    finally:
        await listener.stop()
