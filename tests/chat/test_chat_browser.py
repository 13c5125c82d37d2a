"""The page's message box in real headless Chromium, JavaScript off: the customer writes to the
driver from the tracking page, the answer shows on the page, no number anywhere on it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.chat.chat_support import (
    CUSTOMER,
    DRIVER,
    delivery_on_the_way,
    driver_says,
    driver_threads,
)
from tests.notifications.notif_support import notify_worker
from tests.tracking.tracking_support import MOBILE, chromium, screenshot_path

__all__ = ["notify_worker"]  # a fixture
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def chat_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


async def test_a_message_from_the_page_reaches_the_driver_and_the_answer_shows(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    async with chromium() as browser:
        context = await browser.new_context(
            viewport=MOBILE, device_scale_factor=2, java_script_enabled=False
        )
        page = await context.new_page()
        await page.goto(str(chat_client.make_url(delivery.page)))
        await expect(page.locator("#chat-title")).to_have_text("Message your driver")

        await page.fill("#chat-text", "Gate code is 4411, thanks!")
        await page.click(".chat-form button")

        await expect(page.locator("#chat-notice")).to_have_text("Sent to your driver.")
        await expect(page.locator(".msg.mine .msg-text")).to_have_text("Gate code is 4411, thanks!")
        await page.locator("#chat").screenshot(path=screenshot_path("chat-sent-mobile"))
        threads = await driver_threads(chat_client, delivery.driver)
        assert [m["text"] for m in threads["threads"][0]["messages"]] == [
            "Gate code is 4411, thanks!"
        ]
        assert threads["threads"][0]["messages"][0]["via"] == "page"
        answer = await driver_says(chat_client, delivery.driver, delivery.shipment_id, "Got it!")
        assert (await answer.json())["relay"]["channel"] == "thread"  # they wrote from the page

        await page.goto(str(chat_client.make_url(delivery.page)))
        await expect(page.locator(".msg .who")).to_have_text(["You", "Driver"])
        await expect(page.locator(".msg.theirs .msg-text")).to_have_text("Got it!")
        html = await page.content()
        assert CUSTOMER[2:] not in html and DRIVER[2:] not in html
        await page.locator("#chat").scroll_into_view_if_needed()
        await page.screenshot(path=screenshot_path("chat-mobile"), full_page=True)
