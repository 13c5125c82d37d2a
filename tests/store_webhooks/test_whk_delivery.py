"""Delivery to a real local receiver through a real arq worker: signing, retries, ordering."""

from __future__ import annotations

import time
from typing import Any

import standardwebhooks.webhooks as stdwh
import svix.webhooks as svix
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.relay import OutboxRelay
from gateway.store_webhooks.events import emit, message_id_for
from tests.store_webhooks.conftest import add_endpoint
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import Store


async def _emit(
    engine: AsyncEngine,
    store: Store,
    key: str,
    *,
    shipment_id: str = "shp_1",
    event_type: str = "shipment.status_changed",
    **data: Any,
) -> None:
    async with engine.begin() as conn:
        await emit(conn, store.tenant_id, event_type, {"shipment_id": shipment_id, **data}, key)


async def _attempts(client: TestClient[Any, Any], store: Store, endpoint_id: str) -> list[Any]:
    path = f"/v1/webhook-endpoints/{endpoint_id}/attempts"
    attempts: list[Any] = (await (await client.get(path, headers=store.headers)).json())["attempts"]
    return attempts


async def test_delivery_verifies_with_both_libraries(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    await _emit(engine, store, "change-1", status="delivered")
    await relay.drain()
    await fast_worker.run_check()

    [got] = receiver.at("/hook")
    stdwh.Webhook(endpoint["secret"]).verify(got.body, got.headers)
    svix.Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert got.webhook_id == message_id_for("change-1", endpoint["id"])
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    body = got.json
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "shipment.status_changed" and body["timestamp"].endswith("Z")
    assert body["data"] == {"shipment_id": "shp_1", "status": "delivered"}


async def test_fails_twice_then_succeeds_with_the_same_webhook_id(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    receiver.answer("/hook", (500, {}, "boom"), (502, {}, "bad gateway"))
    await _emit(engine, store, "change-1", status="in_transit")
    await relay.drain()
    await fast_worker.run_check()

    got = receiver.at("/hook")
    assert len(got) == 3
    assert {r.webhook_id for r in got} == {message_id_for("change-1", endpoint["id"])}
    assert len({r.body for r in got}) == 1  # the same bytes every time
    for request in got:
        stdwh.Webhook(endpoint["secret"]).verify(request.body, request.headers)
    attempts = await _attempts(client, store, endpoint["id"])
    assert [a["status_code"] for a in attempts] == [204, 502, 500]  # newest first
    assert [a["error"] for a in attempts] == [None, "http_502", "http_500"]
    assert attempts[0]["next_retry_at"] is None
    assert all(a["next_retry_at"] for a in attempts[1:])
    assert attempts[2]["response_body"] == "boom"
    assert all(a["latency_ms"] >= 0 for a in attempts)

    await _emit(engine, store, "change-1", status="in_transit")  # the caller retried
    await relay.drain()
    await fast_worker.run_check()
    assert len(receiver.at("/hook")) == 3  # nothing new


async def test_one_shipment_is_delivered_in_order_despite_a_retry(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    receiver.answer("/hook", (503, {}, ""))
    for key, status in (("c1", "in_transit"), ("c2", "out_for_delivery"), ("c3", "delivered")):
        await _emit(engine, store, key, status=status)
    await relay.drain()
    await fast_worker.run_check()

    ids = [message_id_for(k, endpoint["id"]) for k in ("c1", "c2", "c3")]
    assert [r.webhook_id for r in receiver.at("/hook")] == [ids[0], ids[0], ids[1], ids[2]]
    statuses = [r.json["data"]["status"] for r in receiver.at("/hook")]
    assert statuses[1:] == ["in_transit", "out_for_delivery", "delivered"]


async def test_only_subscribed_types_and_pii_only_when_asked(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    await add_endpoint(client, store, receiver.url("/plain"))
    await add_endpoint(client, store, receiver.url("/pii"), include_pii=True)
    await add_endpoint(client, store, receiver.url("/ratings"), event_types=["rating.created"])
    recipient = {"phone": "+15551230123", "email": "jane@example.com", "push_tokens": ["t"]}
    await _emit(engine, store, "c1", status="delivered", recipient=recipient)
    await relay.drain()
    await fast_worker.run_check()

    [plain] = receiver.at("/plain")
    [pii] = receiver.at("/pii")
    assert receiver.at("/ratings") == []
    assert "recipient" not in plain.json["data"]
    assert b"+15551230123" not in plain.body and b"jane@" not in plain.body
    assert pii.json["data"]["recipient"] == {"phone": "+15551230123", "email": "jane@example.com"}


async def test_rotated_secret_and_previous_one_both_verify(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    path = f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"
    rotated = await (await client.post(path, headers=store.headers)).json()
    await _emit(engine, store, "c1", status="delivered")
    await relay.drain()
    await fast_worker.run_check()

    [got] = receiver.at("/hook")
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], rotated["secret"]):
        stdwh.Webhook(secret).verify(got.body, got.headers)
        svix.Webhook(secret).verify(got.body, got.headers)


async def test_attempt_log_keeps_only_the_head_of_a_long_response(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    receiver.answer("/hook", (200, {}, "x" * 200_000))
    await _emit(engine, store, "c1", status="delivered")
    await relay.drain()
    await fast_worker.run_check()

    [attempt] = await _attempts(client, store, endpoint["id"])
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_body"] == "x" * 1024


async def test_deleted_endpoint_gets_nothing(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    relay: OutboxRelay,
    fast_worker: Worker,
) -> None:
    endpoint = await add_endpoint(client, store, receiver.url())
    await _emit(engine, store, "c1", status="delivered")
    await client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=store.headers)
    await relay.drain()
    await fast_worker.run_check()
    assert receiver.received == []
