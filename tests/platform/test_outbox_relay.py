"""From carrier POST to a finished job in a real arq worker, and ingest while Redis is down."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.embedded_redis import find_free_port
from gateway.platform.names import LIVE_SHIPMENT_CHANNEL
from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings
from gateway.platform.tables import outbox
from gateway.shipments.jobs import ChangeOutcome, shipment_changed
from gateway.shipments.store_ingest import IngestRequest, ingest
from gateway.shipments.tables import shipment_changes
from tests.support import (
    connect_carrier,
    load_fixture,
    make_store,
    pin_clock_to_fixture,
    post_fixture,
)
from webhooks import fedex


async def _pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.enqueued_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


async def _processed(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = sa.select(shipment_changes).where(shipment_changes.c.processed_at.is_not(None))
        return list((await conn.execute(query)).all())


async def _wait_relayed(engine: AsyncEngine) -> None:
    for _ in range(200):
        if await _pending(engine) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox rows were never relayed")


async def test_accepted_event_runs_job_in_real_worker(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, redis: Redis
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    pubsub = redis.pubsub()
    await pubsub.psubscribe(LIVE_SHIPMENT_CHANNEL + "*")

    assert (await post_fixture(client, path, fixture)).status == 202
    await _wait_relayed(engine)
    assert await worker.run_check() == 1

    [change] = await _processed(engine)
    assert change.status_after == "out_for_delivery"
    message = None
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            break
    assert message is not None and b'"out_for_delivery"' in message["data"]
    await pubsub.aclose()


async def test_retried_post_enqueues_no_second_job(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    await post_fixture(client, path, fixture)
    await _wait_relayed(engine)
    await post_fixture(client, path, fixture)
    await _wait_relayed(engine)

    assert await worker.run_check() == 1
    assert len(await _processed(engine)) == 1


async def test_job_runs_once_even_if_delivered_twice(
    client: TestClient[Any, Any], engine: AsyncEngine, settings: Settings, arq_redis: ArqRedis
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    await post_fixture(client, path, fixture)
    async with engine.connect() as conn:
        [change_id] = (await conn.execute(sa.select(shipment_changes.c.id))).scalars().all()
    ctx: Any = {"db": engine, "redis": arq_redis, "settings": settings}

    first = await shipment_changed(ctx, change_id)
    second = await shipment_changed(ctx, change_id)

    assert (first, second) == (ChangeOutcome.HANDLED, ChangeOutcome.DUPLICATE)


async def test_ingest_keeps_accepting_while_redis_is_down(
    aiohttp_client: Any,
    settings: Settings,
    engine: AsyncEngine,
    arq_redis: ArqRedis,
    worker: Worker,
) -> None:
    dead_redis = f"redis://127.0.0.1:{find_free_port()}/0"
    client = await aiohttp_client(create_app(settings, redis_url=dead_redis))
    store = await make_store(engine)
    fixture = load_fixture("usps", "multiple_events_newest_first")
    path = await connect_carrier(client, store, fixture)
    pin_clock_to_fixture(client, fixture)

    assert (await post_fixture(client, path, fixture)).status == 202
    assert (await client.get("/readyz")).status == 503
    await asyncio.sleep(0.2)  # the relay has tried and failed by now
    assert await _pending(engine) == 1

    # Redis is back (here: a relay that reaches it): the job moves once, and runs once.
    relay = OutboxRelay(engine, arq_redis)
    assert await relay.drain() == 1
    assert await relay.drain() == 0
    assert await worker.run_check() == 1
    assert len(await _processed(engine)) == 1


async def test_two_relays_racing_enqueue_each_job_once(
    engine: AsyncEngine, arq_redis: ArqRedis, worker: Worker
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "multi_package_push")
    parsed = fedex.parse(fixture["request"]["body"].encode())
    async with engine.begin() as conn:
        result = await ingest(
            conn, IngestRequest(store.tenant_id, "cc_x", "fedex", {}, b"{}", parsed)
        )
    assert len(result.changes) == 4

    first, second = OutboxRelay(engine, arq_redis), OutboxRelay(engine, arq_redis)
    await asyncio.gather(first.drain(), second.drain())

    assert await _pending(engine) == 0
    assert await worker.run_check() == 4
    assert len(await _processed(engine)) == 4
