"""The tracking page in real headless Chromium, served by the real app on 127.0.0.1.

Screenshots land in tests/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.tracking.tracking_support import (
    BEFORE_DELIVERY,
    DESKTOP,
    MOBILE,
    ON_THE_WAY,
    chromium,
    link_stats,
    new_link,
    screenshot_path,
    track_shipment,
)

# The page logic runs on both databases in the HTTP tests; the browser needs only one.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _page_url(client: TestClient[Any, Any], path: str) -> str:
    return str(client.make_url(path))


async def _open(page: Page, client: TestClient[Any, Any], path: str) -> None:
    response = await page.goto(_page_url(client, path))
    assert response is not None


async def test_delivered_page_shows_timeline_and_proof(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE, device_scale_factor=2)
        messages: list[str] = []
        page.on("console", lambda msg: messages.append(msg.text))
        await _open(page, client, tracked.path)

        await expect(page.locator("h1")).to_have_text("Your parcel was delivered")
        await expect(page.locator("#badge")).to_have_text("Delivered")
        await expect(page.locator(".store")).to_have_text("Corner Books")
        await expect(page.locator("#summary")).to_have_text("Monday, March 16 at 3:27 PM")
        await expect(page.locator(".event .label")).to_have_text(
            ["Delivered", "Out for delivery", "In transit", "In transit"]
        )
        await expect(page.locator(".event time").first).to_have_text("3:27 PM")
        await expect(page.locator(".event .where").first).to_have_text("Charlotte, NC")
        await expect(page.locator("#received-by")).to_have_text("Holloway")
        photo = page.locator(".pod-photo")
        await photo.scroll_into_view_if_needed()
        await expect(photo).to_have_js_property("complete", True)
        assert await photo.evaluate("img => img.naturalWidth") == 1
        await expect(page.locator("#contact")).to_have_text("+1••••••0123")
        assert "5555550123" not in await page.content()
        assert "jane.doe" not in await page.content()
        assert not [m for m in messages if "Content Security Policy" in m]
        await page.screenshot(path=screenshot_path("delivered-mobile"), full_page=True)
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=screenshot_path("delivered-mobile-first-screen"))

        desktop = await browser.new_page(viewport=DESKTOP)
        await _open(desktop, client, tracked.path)
        await desktop.screenshot(path=screenshot_path("delivered-desktop"), full_page=True)
        dark = await browser.new_page(viewport=MOBILE, color_scheme="dark")
        await _open(dark, client, tracked.path)
        await dark.screenshot(path=screenshot_path("delivered-mobile-dark"), full_page=True)


async def test_rating_form_thanks_and_lists_in_api(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE, device_scale_factor=2)
        await _open(page, client, tracked.path)
        await page.locator("label[for=score-4]").click()
        await page.locator("#comment").fill("Friendly driver, box was dry.")
        await page.screenshot(path=screenshot_path("rating-filled-mobile"), full_page=True)
        await page.get_by_role("button", name="Send rating").click()

        await expect(page.locator("#notice")).to_have_text("Thank you for your rating!")
        await expect(page.locator("#your-rating")).to_contain_text(
            "You rated this delivery 4 out of 5."
        )
        await expect(page.locator("#score-4")).to_be_checked()
        await page.screenshot(path=screenshot_path("rating-thanks-mobile"), full_page=True)

    listed = await client.get("/v1/ratings", headers=tracked.store.headers)
    ratings = (await listed.json())["ratings"]
    assert [(r["shipment_id"], r["score"], r["comment"], r["source"]) for r in ratings] == [
        (tracked.shipment_id, 4, "Friendly driver, box was dry.", "page")
    ]
    assert ratings[0]["tracking_number"] == "1Z8R2F610373102544"
    assert ratings[0]["driver_id"] is None


async def test_in_transit_page_in_spanish(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, locale="es-MX", now=BEFORE_DELIVERY)
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE, device_scale_factor=2)
        await _open(page, client, tracked.path)

        await expect(page.locator("html")).to_have_attribute("lang", "es")
        await expect(page.locator("h1")).to_have_text("Tu paquete está en reparto")
        await expect(page.locator("#summary")).to_have_text("Llega hoy")
        await expect(page.locator(".day").first).to_have_text("Hoy")
        await expect(page.locator(".event time").first).to_have_text("8:41 a.m.")
        await expect(page.locator(".step.current")).to_have_text("En reparto")
        await expect(page.locator("#rating")).to_have_count(0)
        await expect(page.locator("#proof")).to_have_count(0)
        await page.screenshot(path=screenshot_path("in-transit-es-mobile"), full_page=True)
        await page.screenshot(path=screenshot_path("in-transit-es-mobile-first-screen"))


async def test_bad_expired_and_revoked_links_show_the_same_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    revoked_path = tracked.path
    assert re.fullmatch(r"/t/[0-9A-Za-z]{22}", revoked_path)  # a short link
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE, device_scale_factor=2)
        opened = await page.goto(_page_url(client, revoked_path))  # seen (and cached) first
        assert opened is not None and opened.status == 200
        deleted = await client.delete(
            f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
        )
        assert deleted.status == 204
        bodies = []
        altered = revoked_path[:-1] + ("a" if revoked_path[-1] != "a" else "b")
        for path in (revoked_path, altered, "/t/garbage", "/t/" + "A" * 80 + "." + "B" * 22):
            response = await page.goto(_page_url(client, path))
            assert response is not None and response.status == 404
            bodies.append(await response.body())
            await expect(page.locator("h1")).to_have_text("This tracking link is not available")
        await page.screenshot(path=screenshot_path("not-found-revoked-short-link"), full_page=True)
        fresh = await new_link(client, tracked.store, tracked.shipment_id)
        assert len(fresh.removeprefix("http://gateway.test/t/")) == 22
        client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(days=90))  # the short link's end
        expired = await page.goto(_page_url(client, fresh.removeprefix("http://gateway.test")))
        assert expired is not None and expired.status == 404
        bodies.append(await expired.body())
        await expect(page.locator("h1")).to_have_text("This tracking link is not available")
        await page.screenshot(path=screenshot_path("not-found-mobile"), full_page=True)
    assert len(set(bodies)) == 1


async def test_head_and_preview_bots_change_nothing(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    before = await link_stats(client, tracked)
    head = await client.head(tracked.path)
    bot = await client.get(
        tracked.path, headers={"User-Agent": "facebookexternalhit/1.1 Facebot Twitterbot/1.0"}
    )
    assert (head.status, bot.status) == (200, 200)
    assert "Holloway" not in await bot.text()
    assert (
        await link_stats(client, tracked)
        == before
        == {
            "opened_count": 0,
            "first_opened_at": None,
            "last_opened_at": None,
        }
    )
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE)
        await _open(page, client, tracked.path)
    assert (await link_stats(client, tracked))["opened_count"] == 1
