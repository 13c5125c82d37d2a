"""The relay in one transaction (SQLite and PostgreSQL): a message is stored, announced to the
store (numbers only with include_pii) and queued for SMS only when it should travel by SMS; a
closed stop, an empty text and a chatty side are refused with nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.chat import store as chat_store
from gateway.chat.relay import ChatClosed, ChatStop, RateLimited, customer_writes, driver_writes
from gateway.chat.rules import EmptyMessage, Relay, RelayStatus, Sender, Via
from gateway.chat.store import Message
from gateway.chat.tables import chat_messages
from gateway.notifications.store import opt_out
from gateway.platform.tables import outbox
from gateway.store_webhooks.tables import webhook_messages
from gateway.tracking.store import TrackedShipment, load_shipment
from tests.store_webhooks.conftest import add_endpoint
from tests.support import Store, count_rows, make_store

CUSTOMER = "+15555550123"
DRIVER = "+15555550999"
NOW = datetime(2026, 3, 16, 15, 0, tzinfo=UTC)


async def tracked(
    client: TestClient[Any, Any], engine: AsyncEngine, phone: str | None = CUSTOMER
) -> tuple[Store, TrackedShipment]:
    store = await make_store(engine, "Corner Books")
    recipient = {"name": "Jane", "locale": "en-US"} | ({"phone": phone} if phone else {})
    body = {"tracking_number": "1Z8R2F610373102544", "carrier": "ups", "recipient": recipient}
    response = await client.post("/v1/shipments", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    async with engine.connect() as conn:
        found = await load_shipment(conn, (await response.json())["id"])
    assert found is not None
    return store, found


def stop_of(shipment: TrackedShipment, state: str = "active") -> ChatStop:
    return ChatStop(shipment.id, "drv_1", DRIVER, state)


async def write(
    engine: AsyncEngine, sender: Sender, shipment: TrackedShipment, text: str, **kw: Any
) -> Message:
    writes = customer_writes if sender is Sender.CUSTOMER else driver_writes
    via = kw.pop("via", Via.SMS if sender is Sender.CUSTOMER else Via.APP)
    async with engine.begin() as conn:
        return await writes(
            conn, shipment, kw.pop("stop", stop_of(shipment)), text, via, kw.pop("now", NOW)
        )


async def relay_jobs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = sa.select(outbox.c.args).where(outbox.c.function == "send_chat_sms")
        return [row.args[0] for row in (await conn.execute(query)).all()]


async def test_a_customer_message_is_stored_and_shown_to_the_store_without_numbers(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, shipment = await tracked(client, engine)
    plain = await add_endpoint(
        client, store, "https://shop.example/h", event_types=["customer.message"]
    )
    pii = await add_endpoint(
        client, store, "https://shop.example/p", event_types=["customer.message"], include_pii=True
    )

    message = await write(engine, Sender.CUSTOMER, shipment, "  Gate code\n4411 ")

    assert (message.sender, message.via, message.text) == (
        Sender.CUSTOMER,
        Via.SMS,
        "Gate code 4411",
    )
    assert (message.relay, message.relay_status) == (Relay.THREAD, RelayStatus.NONE)
    assert await relay_jobs(engine) == []  # the driver reads it in the app
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(webhook_messages))).all()
    bodies = {row.endpoint_id: json.loads(row.body) for row in rows}
    assert bodies[plain["id"]]["type"] == "customer.message"
    data = bodies[plain["id"]]["data"]
    assert data["from"] == "customer" and data["text"] == "Gate code 4411"
    assert data["shipment_id"] == shipment.id and data["driver"] == {"id": "drv_1"}
    plain_body = next(row.body for row in rows if row.endpoint_id == plain["id"])
    assert CUSTOMER not in plain_body and DRIVER not in plain_body
    assert bodies[pii["id"]]["data"]["customer"] == {"phone": CUSTOMER}
    assert bodies[pii["id"]]["data"]["driver"] == {"id": "drv_1", "phone": DRIVER}


async def test_a_driver_who_wants_sms_gets_the_message_queued(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, shipment = await tracked(client, engine)
    async with engine.begin() as conn:
        await chat_store.set_driver_sms(conn, store.tenant_id, "drv_1", True, NOW)

    message = await write(engine, Sender.CUSTOMER, shipment, "Back door please", via=Via.PAGE)

    assert (message.relay, message.relay_status) == (Relay.SMS, RelayStatus.QUEUED)
    assert await relay_jobs(engine) == [message.id]


async def test_the_driver_answer_travels_the_way_the_customer_wrote(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    _, shipment = await tracked(client, engine)
    first = await write(engine, Sender.DRIVER, shipment, "I'm 5 minutes away")
    await write(engine, Sender.CUSTOMER, shipment, "ok thanks", via=Via.PAGE)
    second = await write(engine, Sender.DRIVER, shipment, "Here now")

    assert first.relay is Relay.SMS  # nobody wrote yet: the customer may not be on the page
    assert second.relay is Relay.THREAD  # they wrote from the page: the answer shows there
    assert await relay_jobs(engine) == [first.id]


async def test_stop_wins_an_opted_out_customer_gets_no_sms(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, shipment = await tracked(client, engine)
    async with engine.begin() as conn:
        await opt_out(conn, store.tenant_id, CUSTOMER, "keyword")

    answer = await write(engine, Sender.DRIVER, shipment, "I'm outside")

    assert answer.relay is Relay.THREAD and await relay_jobs(engine) == []


@pytest.mark.parametrize("state", ["planned", "done", "failed"])
async def test_nothing_is_written_while_the_stop_is_not_next(
    client: TestClient[Any, Any], engine: AsyncEngine, state: str
) -> None:
    _, shipment = await tracked(client, engine)
    for sender in Sender:
        with pytest.raises(ChatClosed):
            await write(engine, sender, shipment, "hello?", stop=stop_of(shipment, state))
        with pytest.raises(ChatClosed):
            await write(engine, sender, shipment, "hello?", stop=None)
    with pytest.raises(EmptyMessage):
        await write(engine, Sender.CUSTOMER, shipment, "   ")
    assert await count_rows(engine, chat_messages) == 0


async def test_each_side_is_rate_limited_on_its_own(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    _, shipment = await tracked(client, engine)
    for second in range(3):
        await write(
            engine, Sender.CUSTOMER, shipment, f"msg {second}", now=NOW + timedelta(seconds=second)
        )

    with pytest.raises(RateLimited) as limited:
        await write(engine, Sender.CUSTOMER, shipment, "one more", now=NOW + timedelta(seconds=3))
    answer = await write(engine, Sender.DRIVER, shipment, "coming", now=NOW + timedelta(seconds=3))
    later = await write(engine, Sender.CUSTOMER, shipment, "ok", now=NOW + timedelta(seconds=60))

    assert limited.value.retry_after_s == 57
    assert answer.sender is Sender.DRIVER and later.text == "ok"
    assert await count_rows(engine, chat_messages) == 5
