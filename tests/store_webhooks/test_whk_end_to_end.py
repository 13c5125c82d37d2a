"""A carrier's webhook in, a signed `shipment.status_changed` out at the store's receiver."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
import standardwebhooks.webhooks as stdwh
import svix.webhooks as svix
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.outbox import count_pending
from gateway.shipments.jobs import shipment_changed
from gateway.shipments.tables import shipment_changes
from gateway.store_webhooks.events import message_id_for
from gateway.store_webhooks.jobs import deliver_webhook
from tests.store_webhooks.conftest import add_endpoint
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import Store, connect_carrier, load_fixture, post_fixture


async def _wait_relayed(engine: AsyncEngine) -> None:
    for _ in range(200):
        async with engine.connect() as conn:
            if await count_pending(conn) == 0:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox rows were never relayed")


async def test_carrier_event_reaches_the_store_signed(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    worker: Worker,
) -> None:
    fixture = load_fixture("ups", "out_for_delivery")
    hook_path = await connect_carrier(client, store, fixture)
    shipment = await client.post(
        "/v1/shipments",
        json={
            "tracking_number": "1Z8R2F610373102544",
            "carrier": "ups",
            "order_id": "A-1001",
            "recipient": {"name": "Jane"},  # no contact: no notification jobs to wait for
        },
        headers=store.headers,
    )
    shipment_id = (await shipment.json())["id"]
    endpoint = await add_endpoint(
        client, store, receiver.url(), event_types=["shipment.status_changed", "rating.created"]
    )

    assert (await post_fixture(client, hook_path, fixture)).status == 202
    await _wait_relayed(engine)
    await worker.run_check()  # shipment_changed, then the delivery job it queued

    [got] = receiver.at("/hook")
    stdwh.Webhook(endpoint["secret"]).verify(got.body, got.headers)
    svix.Webhook(endpoint["secret"]).verify(got.body, got.headers)
    body = got.json
    assert body["type"] == "shipment.status_changed"
    data = body["data"]
    assert data["shipment_id"] == shipment_id
    assert data["tracking_number"] == "1Z8R2F610373102544" and data["carrier"] == "ups"
    assert data["order_id"] == "A-1001"
    assert data["status"] == "out_for_delivery" and data["previous_status"] == "unknown"
    assert data["estimated_delivery"] == "2026-03-16"
    assert data["event"]["carrier_status_code"] == "OT"
    assert data["event"]["occurred_at"] == "2026-03-16T12:41:07Z"
    assert data["event"]["location"]["city"] == "Charlotte"
    assert "recipient" not in data


async def test_recipient_contact_goes_only_to_pii_endpoints(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    receiver: Receiver,
    job_ctx: dict[str, Any],
) -> None:
    fixture = load_fixture("ups", "out_for_delivery")
    hook_path = await connect_carrier(client, store, fixture)
    recipient = {"name": "Jane", "phone": "+15551230123", "email": "jane@example.com"}
    await client.post(
        "/v1/shipments",
        json={"tracking_number": "1Z8R2F610373102544", "carrier": "ups", "recipient": recipient},
        headers=store.headers,
    )
    plain = await add_endpoint(client, store, receiver.url("/plain"))
    pii = await add_endpoint(client, store, receiver.url("/pii"), include_pii=True)
    await post_fixture(client, hook_path, fixture)
    async with engine.connect() as conn:
        [change_id] = (await conn.execute(sa.select(shipment_changes.c.id))).scalars().all()

    await shipment_changed(job_ctx, change_id)  # type: ignore[arg-type]
    for endpoint in (plain, pii):
        message_id = message_id_for(f"{change_id}:status", endpoint["id"])
        await deliver_webhook(job_ctx, message_id)  # type: ignore[arg-type]

    [to_plain] = receiver.at("/plain")
    [to_pii] = receiver.at("/pii")
    assert "recipient" not in to_plain.json["data"]
    assert b"+1555" not in to_plain.body and b"jane@" not in to_plain.body
    assert to_pii.json["data"]["recipient"] == {
        "phone": "+15551230123",
        "email": "jane@example.com",
    }
