"""Outages in one process: Redis goes away and comes back empty; the database cannot be reached.

The relay keeps its back-off however many webhooks arrive, and catches up once Redis is back;
the worker's loop survives Redis restarts; ingest answers 503 with Retry-After while the
database is away. (tests/faults/ does the same with real processes.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port
from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings
from gateway.platform.tables import outbox
from gateway.shipments.store_ingest import IngestRequest, ingest
from gateway.shipments.tables import shipment_changes
from gateway.worker import build_worker
from tests.support import load_fixture, make_store
from webhooks import fedex


@pytest.fixture
def redis_port() -> Iterator[int]:
    """A port for a Redis this test starts, kills and restarts (nothing listens at first)."""
    yield find_free_port()


@pytest.fixture
async def pool(redis_port: int) -> AsyncIterator[ArqRedis]:
    client = ArqRedis.from_url(f"redis://127.0.0.1:{redis_port}/0")
    yield client
    await client.aclose()


async def _four_changes(engine: AsyncEngine) -> None:
    store = await make_store(engine)
    parsed = fedex.parse(load_fixture("fedex", "multi_package_push")["request"]["body"].encode())
    async with engine.begin() as conn:
        request = IngestRequest(store.tenant_id, "cc_x", "fedex", {}, b"{}", parsed)
        assert len((await ingest(conn, request)).changes) == 4


async def _count(engine: AsyncEngine, query: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _until(check: Any, within_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


PENDING = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.enqueued_at.is_(None))
PROCESSED = (
    sa.select(sa.func.count())
    .select_from(shipment_changes)
    .where(shipment_changes.c.processed_at.is_not(None))
)


async def test_relay_keeps_its_back_off_while_redis_is_away_then_catches_up(
    engine: AsyncEngine,
    settings: Settings,
    pool: ArqRedis,
    redis_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.platform.relay")
    await _four_changes(engine)
    relay = OutboxRelay(engine, pool, poll_s=0.05)
    relay.start()
    try:
        for _ in range(40):  # 40 accepted webhooks in 0.8 s, each waking the relay
            relay.wake()
            await asyncio.sleep(0.02)
        failures = [r for r in caplog.records if "outbox relay failed" in r.message]
        # Backing off from 50 ms (doubling) fits about five attempts in 0.8 s, not forty.
        assert 2 <= len(failures) <= 6, [r.message for r in failures]

        with EmbeddedRedis(port=redis_port):
            await _until(lambda: _zero(engine), within_s=10)
            worker = build_worker(
                settings,
                f"redis://127.0.0.1:{redis_port}/0",
                burst=True,
                handle_signals=False,
                poll_delay=0.01,
                ctx={"db": engine, "run_relay": False},
            )
            try:
                assert await worker.run_check() == 4
            finally:
                await worker.close()
    finally:
        await relay.stop()
    assert await _count(engine, PROCESSED) == 4


async def _zero(engine: AsyncEngine) -> bool:
    return await _count(engine, PENDING) == 0


async def test_worker_rides_out_a_redis_restart(
    engine: AsyncEngine, settings: Settings, redis_port: int
) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    server = EmbeddedRedis(port=redis_port)
    server.start()
    worker = build_worker(settings, url, handle_signals=False, poll_delay=0.01, ctx={"db": engine})
    running = asyncio.create_task(worker.async_run())
    try:
        await asyncio.sleep(0.5)  # connected, polling
        os.kill(server.pid, signal.SIGKILL)  # no persistence: it comes back empty
        server.stop()
        await asyncio.sleep(1.5)
        assert not running.done(), "the worker gave up when Redis went away"

        with EmbeddedRedis(port=redis_port):
            await _four_changes(engine)  # its own relay moves them once Redis is back
            await _until(lambda: _all_processed(engine), within_s=20)
            assert not running.done()
    finally:
        with contextlib.suppress(Exception):
            await worker.close()  # Redis is gone again: close() must not raise for that
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def _all_processed(engine: AsyncEngine) -> bool:
    return await _count(engine, PROCESSED) == 4


async def test_close_does_not_raise_when_redis_is_gone(
    engine: AsyncEngine, settings: Settings, redis_port: int
) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    with EmbeddedRedis(port=redis_port):
        worker = build_worker(
            settings, url, burst=True, handle_signals=False, ctx={"db": engine, "run_relay": False}
        )
        await worker.run_check()
    await worker.close()  # arq's own close() raises ConnectionError here


async def test_ingest_answers_503_with_retry_after_while_the_database_is_away(
    aiohttp_client: Any, settings: Settings
) -> None:
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{find_free_port()}/lastmile"
    client = await aiohttp_client(create_app(settings.model_copy(update={"database_url": dead})))
    fixture = load_fixture("fedex", "out_for_delivery")

    response = await client.post(
        "/hooks/fedex/cc_whatever",
        data=fixture["request"]["body"].encode(),
        headers=fixture["request"]["headers"],
    )

    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert (await response.json())["error"]["code"] == "unavailable"
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["checks"]["database"] == "unreachable"


async def test_a_killed_workers_jobs_run_again_within_a_minute(settings: Settings) -> None:
    """arq re-runs a job a dead worker held once its in-progress marker expires: the longest
    job timeout (cron jobs included) + 10 s. tests/faults/ shows it with a real SIGKILL."""
    assert settings.redis_url
    worker = build_worker(settings, settings.redis_url, handle_signals=False)

    assert worker.in_progress_timeout_s <= 50
    assert all(f.timeout_s is not None for f in worker.functions.values())
