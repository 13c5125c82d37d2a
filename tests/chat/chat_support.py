"""Helpers for the chat tests: a store whose customer got an SMS, a driver on the way to them,
signed inbound SMS as Twilio posts them, the driver app's calls."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from gateway.platform.appkeys import CLOCK, SETTINGS
from tests.drivers.drivers_support import DriverHandle, add_route, stop_event
from tests.notifications.notif_support import add_rule, drain, quiet_store
from tests.support import Store

CUSTOMER: Final = "+15555550123"
DRIVER: Final = "+15555550188"  # tests/drivers/drivers_support.add_driver's number
GATEWAY: Final = "+15005550006"  # TWILIO_FROM_NUMBER of the fake provider settings
TRACKING_NUMBER: Final = "1ZCHAT0000000004784"


@dataclass
class Delivery:
    store: Store
    driver: DriverHandle
    shipment_id: str
    token: str  # the customer's tracking link token

    @property
    def page(self) -> str:
        return f"/t/{self.token}"


async def delivery_on_the_way(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    worker: Worker,
    *,
    driver_sms: bool = False,
    locale: str = "en-US",
) -> Delivery:
    """A shipment whose customer got the "out for delivery" SMS; its stop is the driver's next."""
    store = await quiet_store(client, engine, "Corner Books")
    await add_rule(client, store, ["out_for_delivery"], ["sms"], mode="all")
    body = {
        "tracking_number": TRACKING_NUMBER,
        "carrier": "driver",
        "recipient": {"name": "Jane Doe", "phone": CUSTOMER, "locale": locale},
        "destination": {"address": "12 Main St", "lat": 40.0, "lon": -75.0},
    }
    response = await client.post("/v1/shipments", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    shipment_id = (await response.json())["id"]
    driver = await add_driver_with_phone(client, store)
    await add_route(client, store, driver, [shipment_id])
    if driver_sms:
        chat = await client.put(
            f"/v1/drivers/{driver.id}/chat", json={"sms": True}, headers=store.headers
        )
        assert chat.status == 200, await chat.text()
    now = client.app[CLOCK].now()
    started = await stop_event(client, driver, shipment_id, "out_for_delivery", now)
    assert started.status in (200, 201), await started.text()
    await drain(engine, worker)  # the "out for delivery" SMS goes out
    link = await client.post(f"/v1/shipments/{shipment_id}/tracking-link", headers=store.headers)
    token = (await link.json())["url"].rsplit("/", 1)[1]
    return Delivery(store, driver, shipment_id, token)


async def add_driver_with_phone(client: TestClient[Any, Any], store: Store) -> DriverHandle:
    response = await client.post(
        "/v1/drivers", json={"name": "Dana Driver", "phone": DRIVER}, headers=store.headers
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    return DriverHandle(created["id"], created["token"], store)


async def text_gateway(client: TestClient[Any, Any], sender: str, body: str) -> Any:
    """An SMS to the gateway's number, posted and signed as Twilio does."""
    settings = client.app[SETTINGS]
    params = {
        "From": sender,
        "To": GATEWAY,
        "Body": body,
        "MessageSid": "SM" + secrets.token_hex(16),
    }
    assert settings.twilio_auth_token is not None
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(
        f"{settings.public_url}/callbacks/twilio/sms", params
    )
    response = await client.post(
        "/callbacks/twilio/sms",
        data=urlencode(params),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 200, await response.text()
    return response


async def driver_threads(client: TestClient[Any, Any], driver: DriverHandle) -> dict[str, Any]:
    response = await client.get("/v1/driver/messages", headers=driver.headers)
    assert response.status == 200, await response.text()
    threads: dict[str, Any] = await response.json()
    return threads


async def driver_says(
    client: TestClient[Any, Any], driver: DriverHandle, shipment_id: str, text: str
) -> Any:
    return await client.post(
        "/v1/driver/messages",
        json={"shipment_id": shipment_id, "text": text},
        headers=driver.headers,
    )


def later(client: TestClient[Any, Any], seconds: float) -> datetime:
    """Move the app's clock on (the rate limit counts by it)."""
    moved = client.app[CLOCK].now() + timedelta(seconds=seconds)
    client.app[CLOCK].freeze(moved)
    return moved


__all__ = ["drain"]
