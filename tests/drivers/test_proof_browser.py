"""The tracking page shows a driver's proof of delivery in real Chromium: name, photo, signature.

Screenshots land in tests/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.city import T0
from tests.drivers.drivers_support import stop_event
from tests.drivers.proof_support import (
    doorstep_photo,
    post_proof,
    proof_form,
    routed_delivery,
    signature_png,
)
from tests.support import make_store
from tests.tracking.tracking_support import MOBILE, chromium, screenshot_path

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

AT = T0 + timedelta(minutes=20)


async def test_the_page_shows_the_drivers_photo_signature_and_name(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine, "Corner Books")
    delivery = await routed_delivery(
        client, store, phone="+15555550123", locale="en-US", timezone="America/Chicago"
    )
    client.app[CLOCK].freeze(T0 + timedelta(minutes=2))
    await stop_event(client, delivery.driver, delivery.shipment_id, "out_for_delivery", T0)
    client.app[CLOCK].freeze(AT)
    await stop_event(client, delivery.driver, delivery.shipment_id, "arrived", AT)
    form = proof_form(doorstep_photo(), signature_png(), "Jane Doe", occurred_at=AT.isoformat())
    assert (await post_proof(client, delivery.driver, delivery.shipment_id, form)).status == 201
    link = await client.post(
        f"/v1/shipments/{delivery.shipment_id}/tracking-link", headers=store.headers
    )
    path = (await link.json())["url"].removeprefix("http://gateway.test")
    client.app[CLOCK].freeze(AT + timedelta(minutes=30))

    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE, device_scale_factor=2)
        messages: list[str] = []
        page.on("console", lambda msg: messages.append(msg.text))
        response = await page.goto(str(client.make_url(path)))
        assert response is not None and response.status == 200

        await expect(page.locator("h1")).to_have_text("Your parcel was delivered")
        await expect(page.locator("#received-by")).to_have_text("Jane Doe")
        await expect(page.locator(".event .label")).to_have_text(
            ["Delivered", "Out for delivery", "Out for delivery"]
        )
        for selector in (".pod-photo", ".pod-signature"):
            image = page.locator(selector)
            await image.scroll_into_view_if_needed()
            await expect(image).to_have_js_property("complete", True)
            assert await image.evaluate("img => img.naturalWidth") > 100, selector
            assert (await image.get_attribute("src") or "").startswith("/p/")
        assert not [m for m in messages if "Content Security Policy" in m]
        await page.screenshot(path=screenshot_path("driver-proof-mobile"), full_page=True)
        proof = page.locator("#proof")
        await proof.scroll_into_view_if_needed()
        await proof.screenshot(path=screenshot_path("driver-proof-card"))
