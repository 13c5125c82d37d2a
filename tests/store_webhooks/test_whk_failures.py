"""Receivers that refuse: 410 disables, Retry-After is honored, 5 failing days disable and alert,
replay re-sends exactly what was missed, private addresses are refused outside dev mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq import Retry
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.console import ConsoleChannel
from gateway.platform.appkeys import RELAY
from gateway.platform.reconcile import reconcile
from gateway.platform.relay import OutboxRelay
from gateway.platform.tables import outbox
from gateway.recovery import FINDERS
from gateway.store_webhooks.alerts import AlertOutcome, send_store_alert
from gateway.store_webhooks.events import emit, message_id_for
from gateway.store_webhooks.jobs import Outcome, deliver_webhook
from gateway.store_webhooks.maintenance import webhook_maintenance
from gateway.store_webhooks.sender import create_session
from gateway.store_webhooks.tables import store_alerts, webhook_endpoints, webhook_messages
from tests.store_webhooks.conftest import add_endpoint
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import Store


async def _emit(engine: AsyncEngine, store: Store, key: str, shipment_id: str = "shp_1") -> None:
    async with engine.begin() as conn:
        await emit(
            conn,
            store.tenant_id,
            "shipment.status_changed",
            {"shipment_id": shipment_id, "status": "in_transit", "key": key},
            key,
        )


async def _endpoint(client: TestClient[Any, Any], store: Store, endpoint_id: str) -> Any:
    path = f"/v1/webhook-endpoints/{endpoint_id}"
    return await (await client.get(path, headers=store.headers)).json()


async def test_410_disables_the_endpoint_at_once(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    receiver.answer("/hook", (410, {}, "gone"))
    await _emit(engine, store, "c1")
    await relay.drain()
    await fast_worker.run_check()
    await _emit(engine, store, "c2")  # while disabled: kept, not sent
    await relay.drain()
    await fast_worker.run_check()

    assert len(receiver.at("/hook")) == 1
    state = await _endpoint(client, store, endpoint["id"])
    assert state["enabled"] is False and state["disabled_reason"] == "gone"
    async with engine.connect() as conn:
        statuses = (await conn.execute(sa.select(webhook_messages.c.status))).scalars().all()
        alerts = (await conn.execute(sa.select(store_alerts))).all()
    assert sorted(statuses) == ["missed", "missed"]
    assert [(a.kind, a.status) for a in alerts] == [("webhook_endpoint_disabled", "pending")]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honored(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    job_ctx: dict[str, Any],
    status: int,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    retry_after = "120" if status == 429 else later
    receiver.answer("/hook", (status, {"Retry-After": retry_after}, ""))
    await _emit(engine, store, "c1")
    message_id = message_id_for("c1", endpoint["id"])
    before = datetime.now(UTC)

    with pytest.raises(Retry) as retry:
        await deliver_webhook(job_ctx, message_id)  # type: ignore[arg-type]
    wait_s = 120 if status == 429 else 590
    assert retry.value.defer_score is not None and retry.value.defer_score >= wait_s * 1000
    path = f"/v1/webhook-endpoints/{endpoint['id']}/attempts"
    [attempt] = (await (await client.get(path, headers=store.headers)).json())["attempts"]
    assert attempt["status_code"] == status
    next_retry = datetime.fromisoformat(attempt["next_retry_at"])
    assert next_retry >= before + timedelta(seconds=wait_s)

    # Another run before that time (say a duplicate job) sends nothing.
    assert await deliver_webhook(job_ctx, message_id) is Outcome.IDLE  # type: ignore[arg-type]
    assert len(receiver.at("/hook")) == 1


async def test_replay_resends_exactly_the_missed_messages(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    since = datetime.now(UTC) - timedelta(seconds=1)
    await _emit(engine, store, "delivered-before", shipment_id="shp_a")
    await relay.drain()
    await fast_worker.run_check()
    receiver.answer("/hook", (410, {}, ""))
    await _emit(engine, store, "gone", shipment_id="shp_b")
    await relay.drain()
    await fast_worker.run_check()
    for key in ("while-off-1", "while-off-2"):
        await _emit(engine, store, key, shipment_id="shp_c")
    replay = {"since": since.isoformat()}
    refused = await client.post(path + "/replay", json=replay, headers=store.headers)
    assert refused.status == 409

    await client.patch(path, json={"enabled": True}, headers=store.headers)
    await _emit(engine, store, "after", shipment_id="shp_d")
    await relay.drain()
    await fast_worker.run_check()
    receiver.received.clear()
    response = await client.post(path + "/replay", json=replay, headers=store.headers)
    await relay.drain()
    await fast_worker.run_check()

    assert response.status == 202
    missed = [message_id_for(k, endpoint["id"]) for k in ("gone", "while-off-1", "while-off-2")]
    assert (await response.json())["message_ids"] == missed
    assert sorted(r.webhook_id for r in receiver.at("/hook")) == sorted(missed)
    again = await client.post(path + "/replay", json=replay, headers=store.headers)
    assert (await again.json())["replayed"] == 0


async def test_replay_since_leaves_older_messages_alone(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url(), enabled=False)
    await _emit(engine, store, "old")
    cut = datetime.now(UTC)
    await _emit(engine, store, "new")
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    await client.patch(path, json={"enabled": True}, headers=store.headers)
    response = await client.post(
        path + "/replay", json={"since": cut.isoformat()}, headers=store.headers
    )
    await relay.drain()
    await fast_worker.run_check()
    assert (await response.json())["message_ids"] == [message_id_for("new", endpoint["id"])]
    assert [r.json["data"]["key"] for r in receiver.at("/hook")] == ["new"]


async def test_failing_for_five_days_disables_and_emails_the_store(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    job_ctx: dict[str, Any],
) -> None:
    endpoint = await add_endpoint(
        client, store, receiver.url(), alert_email="ops@cornerbooks.example"
    )
    receiver.answer("/hook", (500, {}, ""), (500, {}, ""))
    await _emit(engine, store, "c1")
    message_id = message_id_for("c1", endpoint["id"])
    with pytest.raises(Retry):  # day one: just a failure
        await deliver_webhook(job_ctx, message_id)  # type: ignore[arg-type]
    assert (await _endpoint(client, store, endpoint["id"]))["failing_since"] is not None
    async with engine.begin() as conn:  # five days of nothing but failures have passed
        await conn.execute(
            webhook_endpoints.update().values(
                failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1)
            )
        )
        await conn.execute(webhook_messages.update().values(next_attempt_at=datetime.now(UTC)))

    assert await deliver_webhook(job_ctx, message_id) is Outcome.DISABLED  # type: ignore[arg-type]

    state = await _endpoint(client, store, endpoint["id"])
    assert state["enabled"] is False and state["disabled_reason"] == "failing"
    async with engine.connect() as conn:
        [alert] = (await conn.execute(sa.select(store_alerts))).all()
        jobs = (await conn.execute(sa.select(outbox.c.function))).scalars().all()
    assert "send_store_alert" in jobs
    console = ConsoleChannel()
    ctx = {**job_ctx, "channels": {"email": console}}
    assert await send_store_alert(ctx, alert.id) is AlertOutcome.SENT  # type: ignore[arg-type]
    assert (
        await send_store_alert(ctx, alert.id)  # type: ignore[arg-type]
        is AlertOutcome.NOTHING_TO_SEND
    )
    [email] = console.sent_to("ops@cornerbooks.example")
    assert receiver.url() in email.message.text  # type: ignore[union-attr]


async def test_private_address_is_refused_outside_dev_mode(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    job_ctx: dict[str, Any],
) -> None:
    # Saved in dev mode (allowed there); the worker runs in production mode.
    by_ip = await add_endpoint(client, store, receiver.url("/ip"))
    assert receiver.server is not None
    by_name = await add_endpoint(
        client,
        store,
        f"http://localhost:{receiver.server.port}/name",
        event_types=["rating.created"],
    )
    session = create_session(allow_private=False)
    production = job_ctx["settings"].model_copy(update={"dev": False})
    ctx = {**job_ctx, "settings": production, "webhook_http": session}
    async with engine.begin() as conn:
        await emit(conn, store.tenant_id, "shipment.status_changed", {"shipment_id": "s"}, "k")
        await emit(conn, store.tenant_id, "rating.created", {"score": 5}, "k")
    try:
        for endpoint in (by_ip, by_name):
            with pytest.raises(Retry):
                await deliver_webhook(ctx, message_id_for("k", endpoint["id"]))  # type: ignore[arg-type]
    finally:
        await session.close()

    assert receiver.received == []
    for endpoint in (by_ip, by_name):
        path = f"/v1/webhook-endpoints/{endpoint['id']}/attempts"
        [attempt] = (await (await client.get(path, headers=store.headers)).json())["attempts"]
        assert attempt["error"] == "address_refused" and attempt["status_code"] is None


async def test_reconciler_requeues_a_lost_delivery_and_maintenance_purges_old_messages(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    fast_worker: Worker,
    job_ctx: dict[str, Any],
    arq_redis: ArqRedis,
    relay: OutboxRelay,
    redis: Redis,
) -> None:
    await client.app[RELAY].stop()  # this test moves the outbox itself
    await add_endpoint(client, store, receiver.url())
    await _emit(engine, store, "lost")
    await _emit(engine, store, "ancient", shipment_id="shp_old")
    assert await relay.drain() == 2  # both delivery jobs are in Redis...
    await redis.flushall()  # ...and Redis loses them
    async with engine.begin() as conn:
        await conn.execute(
            webhook_messages.update()
            .where(webhook_messages.c.lane == "shp_old")
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
        await conn.execute(
            webhook_messages.update().values(next_attempt_at=datetime.now(UTC) - timedelta(hours=1))
        )

    purged = await webhook_maintenance(job_ctx)  # type: ignore[arg-type]
    requeued = await reconcile(engine, arq_redis, FINDERS)
    await fast_worker.run_check()

    assert (purged, requeued) == ({"purged": 1}, {"deliver_webhook": 1})
    assert [r.json["data"]["key"] for r in receiver.at("/hook")] == ["lost"]
    assert await webhook_maintenance(job_ctx) == {"purged": 0}  # type: ignore[arg-type]
    assert await reconcile(engine, arq_redis, FINDERS) == {}


async def test_gives_up_after_eight_attempts_and_the_lane_moves_on(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    receiver.answer("/hook", *[(500, {}, "")] * 8)
    await _emit(engine, store, "doomed")
    await _emit(engine, store, "next")
    await relay.drain()
    await fast_worker.run_check()

    doomed, after = (message_id_for(k, endpoint["id"]) for k in ("doomed", "next"))
    assert [r.webhook_id for r in receiver.at("/hook")] == [doomed] * 8 + [after]
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(webhook_messages.c.id, webhook_messages.c.status))
        statuses = dict(rows.all())
    assert statuses == {doomed: "failed", after: "delivered"}
    state = await _endpoint(client, store, endpoint["id"])
    assert state["enabled"] is True and state["failing_since"] is None  # "next" succeeded
