"""Talking to the driver end to end, through the real Twilio SDK against the fake Twilio: the
customer's SMS reply reaches the driver app (and the driver's phone when configured), the driver's
answer comes back to the customer by SMS from the gateway's number, and a driver's SMS reply is
routed to the customer of their stop. Neither side's number appears in the other side's
payloads, in the logs, or in store webhooks unless the endpoint asked for `include_pii`."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.chat.chat_support import (
    CUSTOMER,
    DRIVER,
    GATEWAY,
    Delivery,
    delivery_on_the_way,
    driver_says,
    driver_threads,
    text_gateway,
)
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import drain, notify_worker
from tests.store_webhooks.conftest import receiver
from tests.store_webhooks.whk_receiver import Receiver

__all__ = ["notify_worker", "receiver"]  # fixtures


@pytest.fixture
async def chat_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


async def subscribe(
    client: TestClient[Any, Any], delivery: Delivery, receiver: Receiver, path: str, pii: bool
) -> None:
    body = {
        "url": receiver.url(path),
        "event_types": ["customer.message"],
        "include_pii": pii,
    }
    response = await client.post("/v1/webhook-endpoints", json=body, headers=delivery.store.headers)
    assert response.status == 201, await response.text()


def sms_to(fake: FakeProviders, number: str) -> list[Any]:
    return [r for r in fake.twilio.requests if r.to == number]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_customer_sms_to_driver_app_and_back_by_sms(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # what production logs, from every library
    caplog.set_level(logging.DEBUG, logger="gateway")  # and everything the gateway says
    caplog.set_level(logging.DEBUG, logger="channels")
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker, driver_sms=True)
    await subscribe(chat_client, delivery, receiver, "/plain", pii=False)
    await subscribe(chat_client, delivery, receiver, "/pii", pii=True)
    assert len(sms_to(fake_providers, CUSTOMER)) == 1  # "out for delivery"

    reply = await text_gateway(chat_client, CUSTOMER, "Please leave it by the back door")
    await drain(engine, notify_worker)

    assert "<Message>" not in await reply.text()  # no automatic answer to the customer
    [to_driver] = sms_to(fake_providers, DRIVER)
    assert to_driver.from_ == GATEWAY
    assert to_driver.body == "Customer 4784: Please leave it by the back door"
    threads = await driver_threads(chat_client, delivery.driver)
    [thread] = threads["threads"]
    assert thread["shipment_id"] == delivery.shipment_id and thread["stop_state"] == "active"
    assert [m["text"] for m in thread["messages"]] == ["Please leave it by the back door"]
    assert [m["from"] for m in thread["messages"]] == ["customer"]

    answer = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "Will do!")
    assert answer.status == 201, await answer.text()
    await drain(engine, notify_worker)

    [_, to_customer] = sms_to(fake_providers, CUSTOMER)
    assert to_customer.from_ == GATEWAY
    assert to_customer.body == "Corner Books driver: Will do!"

    await text_gateway(chat_client, DRIVER, "Actually I'm at the front now")  # the driver's SMS
    await drain(engine, notify_worker)

    assert (
        sms_to(fake_providers, CUSTOMER)[-1].body
        == "Corner Books driver: Actually I'm at the front now"
    )
    thread_now = (await driver_threads(chat_client, delivery.driver))["threads"][0]["messages"]
    assert [(m["from"], m["via"]) for m in thread_now] == [
        ("customer", "sms"),
        ("driver", "app"),
        ("driver", "sms"),
    ]
    store_view = await chat_client.get(
        f"/v1/shipments/{delivery.shipment_id}/messages", headers=delivery.store.headers
    )
    assert [m["text"] for m in (await store_view.json())["messages"]] == [
        "Please leave it by the back door",
        "Will do!",
        "Actually I'm at the front now",
    ]

    # Numbers: never on the other side, never in logs, in webhooks only with include_pii.
    assert CUSTOMER not in to_driver.body and DRIVER not in to_customer.body
    assert CUSTOMER not in json.dumps(threads) + json.dumps(thread_now)
    assert DRIVER not in json.dumps(await answer.json())
    assert DRIVER not in await store_view.text() and CUSTOMER not in await store_view.text()
    for secret in (CUSTOMER, DRIVER, CUSTOMER[2:], DRIVER[2:]):
        assert secret not in caplog.text
    plain = [r.json for r in receiver.at("/plain")]
    pii = [r.json for r in receiver.at("/pii")]
    assert [w["data"]["from"] for w in plain] == ["customer", "driver", "driver"]
    assert all(w["type"] == "customer.message" for w in plain + pii)
    assert CUSTOMER not in json.dumps(plain) and DRIVER not in json.dumps(plain)
    assert pii[0]["data"]["customer"] == {"phone": CUSTOMER}
    assert pii[0]["data"]["driver"]["phone"] == DRIVER
