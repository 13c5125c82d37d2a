"""The REAL gateway's tracking page in real Chromium (real Redis pub/sub, the driver API):
a ping moves the truck without a reload, the page works without JavaScript, stale after two
minutes, a revoked link ends the stream and shows the 404 page, an expired one too.

Map tiles are the test city's SVGs, served by the browser's request routing in place of
OpenStreetMap (the page's default tile URL). Screenshots: tests/screenshots/live-gateway-*.png.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Locator, Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.city import T0
from tests.live.fake_tiles import svg_tile
from tests.live.gateway_support import Delivery, drive, own_delivery
from tests.live.live_support import _WATCH, MOBILE, Watched, center, screenshot_path, settled_center

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TILES = "https://tile.openstreetmap.org/**"
_TILE = re.compile(r"/(\d+)/(\d+)/(\d+)\.png$")


async def _tiles(route: Route) -> None:
    match = _TILE.search(route.request.url)
    assert match
    await route.fulfill(body=svg_tile(int(match[2]), int(match[3])), content_type="image/svg+xml")


async def _context(browser: Browser, *, javascript: bool = True) -> BrowserContext:
    context = await browser.new_context(
        viewport=MOBILE, device_scale_factor=2, java_script_enabled=javascript
    )
    await context.add_init_script(_WATCH)
    await context.route(TILES, _tiles)
    return context


async def _open(browser: Browser, url: str) -> Watched:
    page = await (await _context(browser)).new_page()
    watched = Watched(page)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "console",
        lambda m: watched.console.append(m.text) if m.type == "error" else None,
    )
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    return watched


def _truck(page: Page) -> Locator:
    return page.locator("#live-map .lm-truck")


def _base(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("")).rstrip("/")


async def _under_way(client: TestClient[Any, Any], engine: AsyncEngine) -> Delivery:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    return delivery


async def test_a_driver_ping_moves_the_truck_without_a_reload(
    client: TestClient[Any, Any], engine: AsyncEngine, browser: Browser
) -> None:
    delivery = await _under_way(client, engine)
    watched = await _open(browser, _base(client) + delivery.paths[0])
    page = watched.page
    await expect(page.locator("#live-pill")).to_be_visible()  # the stream is open
    await page.evaluate("window.__samePage = true")
    home = await center(page.locator("#live-map .lm-dest"))
    before = await settled_center(_truck(page))
    await expect(page.locator("#live-text")).to_have_text(re.compile(r"^Your driver is 0\.4 mi"))
    await page.screenshot(path=screenshot_path("gateway-before"))

    await drive(client, delivery, 500, 30)  # through the driver API, as the app sends it

    await expect(page.locator("#live-text")).to_have_text(re.compile(r"^Your driver is 0\.2 mi"))
    after = await settled_center(_truck(page))
    assert math.dist(after, home) < math.dist(before, home) - 20  # it drove toward the door
    assert await page.evaluate("window.__samePage") is True
    await page.screenshot(path=screenshot_path("gateway-moved"))
    await watched.assert_clean()


async def test_the_page_works_without_javascript(
    client: TestClient[Any, Any], engine: AsyncEngine, browser: Browser
) -> None:
    delivery = await _under_way(client, engine)
    page = await (await _context(browser, javascript=False)).new_page()
    response = await page.goto(_base(client) + delivery.paths[0])
    assert response is not None and response.status == 200
    await expect(page.locator("#live-text")).to_have_text(
        re.compile(r"^Your driver is 0\.4 mi away · seen 9:00")
    )
    await expect(page.locator("#live-eta")).to_be_visible()
    await expect(page.locator("#live-map")).to_be_hidden()  # no script, no map box
    await expect(page.locator("#headline")).to_be_visible()
    await page.screenshot(path=screenshot_path("gateway-no-js"), full_page=True)


async def test_the_driver_is_shown_stale_after_two_minutes_without_a_ping(
    client: TestClient[Any, Any], engine: AsyncEngine, browser: Browser
) -> None:
    delivery = await _under_way(client, engine)
    client.app[CLOCK].freeze(T0 + timedelta(minutes=3))
    watched = await _open(browser, _base(client) + delivery.paths[0])
    page = watched.page
    await expect(page.locator("#live-text")).to_have_text(
        re.compile(r"^Your driver was 0\.4 mi away · last seen 9:00")
    )
    await expect(page.locator("#live-map")).to_have_class(re.compile(r"\blm-stale\b"))
    await expect(page.locator("#live-text")).to_have_class(re.compile(r"\blm-stale-text\b"))
    await page.screenshot(path=screenshot_path("gateway-stale"))
    await watched.assert_clean()


async def test_a_revoked_link_ends_the_stream_and_then_shows_the_404_page(
    client: TestClient[Any, Any], engine: AsyncEngine, browser: Browser
) -> None:
    delivery = await _under_way(client, engine)
    watched = await _open(browser, _base(client) + delivery.paths[0])
    page = watched.page
    await expect(page.locator("#live-pill")).to_be_visible()
    revoked = await client.delete(
        f"/v1/shipments/{delivery.shipments[0]}/tracking-link", headers=delivery.headers()
    )
    assert revoked.status == 204
    await expect(page.locator("#live-gone")).to_have_text("This tracking link is no longer active.")
    await page.screenshot(path=screenshot_path("gateway-gone"))
    response = await page.reload()
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("This tracking link is not available")
    await page.screenshot(path=screenshot_path("gateway-revoked-404"))


async def test_an_expired_link_shows_the_404_page(
    client: TestClient[Any, Any], engine: AsyncEngine, browser: Browser
) -> None:
    delivery = await _under_way(client, engine)
    client.app[CLOCK].freeze(T0 + timedelta(days=400))
    page = await (await _context(browser)).new_page()
    response = await page.goto(_base(client) + delivery.paths[0])
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("This tracking link is not available")
    await page.screenshot(path=screenshot_path("gateway-expired-404"))
