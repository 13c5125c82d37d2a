"""Chat over HTTP and SMS: the rate limit answers a clear 429 on both sides, STOP wins, a message
is only for the driver of a stop that is next, the page's form is refused from another site, and
a driver reaches only the customers of their own stops."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.chat.tables import chat_messages
from gateway.platform.settings import Settings
from tests.chat.chat_support import (
    CUSTOMER,
    DRIVER,
    add_driver_with_phone,
    delivery_on_the_way,
    driver_says,
    driver_threads,
    later,
    text_gateway,
)
from tests.drivers.drivers_support import stop_event
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import drain, notify_worker
from tests.support import count_rows

__all__ = ["notify_worker"]  # a fixture
BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1"}


@pytest.fixture
async def chat_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


async def page_says(client: TestClient[Any, Any], page: str, text: str, **headers: str) -> Any:
    return await client.post(
        f"{page}/messages", json={"text": text}, headers={**BROWSER, **headers}
    )


async def test_both_sides_get_a_clear_429_when_too_fast(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    later(chat_client, 0)  # freeze the app's clock: the limit counts by it
    sent = [(await page_says(chat_client, delivery.page, f"note {n}")).status for n in range(3)]
    too_fast = await page_says(chat_client, delivery.page, "one more")
    form = await chat_client.post(
        f"{delivery.page}/messages", data={"text": "from the form"}, headers=BROWSER
    )
    answers = [
        (await driver_says(chat_client, delivery.driver, delivery.shipment_id, f"a{n}")).status
        for n in range(3)
    ]
    driver_too_fast = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "a3")

    assert sent == [201, 201, 201] and answers == [201, 201, 201]
    for response in (too_fast, driver_too_fast):
        assert response.status == 429
        assert int(response.headers["Retry-After"]) == 60
        assert (await response.json())["error"]["code"] == "rate_limited"
    assert form.status == 429 and form.headers["Retry-After"] == "60"
    page = await form.text()
    assert "too quickly" in page and ">from the form</textarea>" in page  # the text is kept
    later(chat_client, 60)
    assert (await page_says(chat_client, delivery.page, "now?")).status == 201
    assert await count_rows(engine, chat_messages) == 7


async def test_stop_wins_and_is_never_relayed(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker, driver_sms=True)

    stop = await text_gateway(chat_client, CUSTOMER, "STOP")
    await text_gateway(chat_client, CUSTOMER, "are you there?")  # opted out: not relayed
    answer = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "Outside!")
    await drain(engine, notify_worker)

    assert "unsubscribed" in await stop.text()
    assert [r.to for r in fake_providers.twilio.requests] == [CUSTOMER]  # the first SMS only
    assert answer.status == 201 and (await answer.json())["relay"]["channel"] == "thread"
    messages = (await driver_threads(chat_client, delivery.driver))["threads"][0]["messages"]
    assert [m["text"] for m in messages] == ["Outside!"]  # neither STOP nor the later reply


async def test_no_driver_on_the_way_no_chat(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker, driver_sms=True)
    now = later(chat_client, 0)
    done = await stop_event(chat_client, delivery.driver, delivery.shipment_id, "delivered", now)
    assert done.status in (200, 201), await done.text()

    sms = await text_gateway(chat_client, CUSTOMER, "thanks, got it")
    page = await page_says(chat_client, delivery.page, "hello?")
    app = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "enjoy")
    await drain(engine, notify_worker)

    assert "<Message>" not in await sms.text()
    assert page.status == 409 and (await page.json())["error"]["code"] == "chat_closed"
    assert app.status == 409
    assert not [r for r in fake_providers.twilio.requests if r.to == DRIVER]
    assert await count_rows(engine, chat_messages) == 0


async def test_the_page_form_is_refused_from_another_site(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)

    cross = await page_says(chat_client, delivery.page, "hi", Origin="https://evil.example")
    fetch = await page_says(chat_client, delivery.page, "hi", **{"Sec-Fetch-Site": "cross-site"})
    same = await page_says(chat_client, delivery.page, "hi", Origin="http://gateway.test")
    bad_link = await page_says(chat_client, "/t/" + "A" * 22, "hi")

    assert (cross.status, fetch.status, same.status, bad_link.status) == (403, 403, 201, 404)
    assert await count_rows(engine, chat_messages) == 1


async def test_a_driver_reaches_only_their_own_stops(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    other = await add_driver_with_phone(chat_client, delivery.store)

    wrong = await driver_says(chat_client, other, delivery.shipment_id, "hi")
    unknown = await driver_says(chat_client, delivery.driver, "shp_nope", "hi")
    empty = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "   ")
    no_token = await chat_client.get("/v1/driver/messages")

    assert (wrong.status, unknown.status, empty.status) == (404, 404, 422)
    assert "text" in (await empty.json())["error"]["message"]
    assert no_token.status == 401
    assert (await driver_threads(chat_client, other))["threads"] == []
