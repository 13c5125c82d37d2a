"""The widget from the REAL gateway on store pages of other origins, in real Chromium.

A store page (tests/live/fake_shop.py, strict CSP) embeds the widget with a token issued for
its origin: status, timeline and the live map render inside the shadow root and a driver ping
moves the truck. The same token on a page of a third origin shows the neutral refusal and no
data. Tiles: the test city's SVGs in place of OpenStreetMap. Screenshots:
tests/screenshots/live-widget-gateway-*.png.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Route, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.drivers.city import T0
from tests.drivers.drivers_support import stop_event
from tests.live.fake_shop import FakeShop
from tests.live.fake_tiles import svg_tile
from tests.live.gateway_support import Delivery, drive, own_delivery
from tests.live.live_support import (
    _WATCH,
    DESKTOP,
    MOBILE,
    Watched,
    center,
    screenshot_path,
    settled_center,
)
from tests.live.widget_support import widget_token

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
OSM = "https://tile.openstreetmap.org"
_TILE = re.compile(r"/(\d+)/(\d+)/(\d+)\.png$")


async def _tiles(route: Route) -> None:
    match = _TILE.search(route.request.url)
    assert match
    await route.fulfill(body=svg_tile(int(match[2]), int(match[3])), content_type="image/svg+xml")


@pytest.fixture
async def shops(client: TestClient[Any, Any]) -> AsyncIterator[tuple[FakeShop, FakeShop]]:
    """The store's own site, and a third origin that copied its embed snippet."""
    gateway = str(client.make_url("")).rstrip("/")
    own, third = FakeShop(gateway=gateway, tiles=OSM), FakeShop(gateway=gateway, tiles=OSM)
    await own.start()
    await third.start()
    try:
        yield own, third
    finally:
        await own.stop()
        await third.stop()


async def _open(browser: Browser, url: str, viewport: Any = DESKTOP) -> Watched:
    context = await browser.new_context(viewport=viewport, device_scale_factor=2)
    await context.add_init_script(_WATCH)
    await context.route(f"{OSM}/**", _tiles)
    page = await context.new_page()
    watched = Watched(page)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("console", lambda m: watched.console.append(m.text) if m.type == "error" else None)
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    return watched


async def _embedded(
    client: TestClient[Any, Any], engine: AsyncEngine, shop: FakeShop
) -> tuple[Delivery, str]:
    delivery = await own_delivery(client, engine)
    first = delivery.shipments[0]
    loaded = await stop_event(client, delivery.driver, first, "out_for_delivery", T0)
    assert loaded.status in (200, 201, 202), await loaded.text()
    await drive(client, delivery, 100, 0)
    issued = await widget_token(client, delivery.store, delivery.shipments[0], origin=shop.url)
    shop.tokens = [issued["token"]]
    return delivery, issued["token"]


async def test_the_widget_renders_live_on_the_stores_origin_and_a_ping_moves_the_truck(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    browser: Browser,
    shops: tuple[FakeShop, FakeShop],
) -> None:
    own, _ = shops
    delivery, _ = await _embedded(client, engine, own)
    watched = await _open(browser, own.url + "/")
    page = watched.page
    await expect(page.locator(".lm-pill")).to_have_text("Live")  # the stream is open
    await expect(page.locator(".lmw-headline")).to_have_text("Your parcel is out for delivery")
    await expect(page.locator(".lmw-steps li.current")).to_have_text("Out for delivery")
    await expect(page.locator(".lmw-events li").first).to_contain_text("Out for delivery")
    await expect(page.locator(".lmw-driver")).to_have_text(re.compile(r"^Your driver is 0\.4 mi"))
    in_shadow: bool = await page.evaluate(
        "() => !!document.querySelector('[data-lastmile-shipment]').shadowRoot"
        ".querySelector('.lm-truck') && !document.querySelector('.lm-truck')"
    )
    assert in_shadow
    truck = page.locator(".lm-truck")
    home = await center(page.locator(".lm-dest"))
    before = await settled_center(truck)
    await page.screenshot(path=screenshot_path("widget-gateway-before"))

    await drive(client, delivery, 500, 30)  # the driver app's ping, through the driver API

    await expect(page.locator(".lmw-driver")).to_have_text(re.compile(r"^Your driver is 0\.2 mi"))
    after = await settled_center(truck)
    assert math.dist(after, home) < math.dist(before, home) - 20  # it drove toward the door
    await page.screenshot(path=screenshot_path("widget-gateway-after"))
    assert await watched.new_globals() == ["LastmileLive"]
    await watched.assert_clean()  # the store's strict CSP: nothing blocked


async def test_a_third_origin_is_refused_and_gets_no_data(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    browser: Browser,
    shops: tuple[FakeShop, FakeShop],
) -> None:
    own, third = shops
    _, token = await _embedded(client, engine, own)
    third.tokens = [token]  # the snippet copied onto another site
    watched = await _open(browser, third.url + "/", MOBILE)
    page = watched.page
    message = page.locator(".lmw-msg")
    await expect(message).to_have_text("Tracking isn\u2019t available for this order.")
    shadow_text: str = await page.evaluate(
        "() => document.querySelector('[data-lastmile-shipment]').shadowRoot.textContent"
    )
    assert "LM1" not in shadow_text and "Out for delivery" not in shadow_text
    assert await page.locator(".lmw-headline").count() == 0
    assert await page.locator(".lm-truck").count() == 0
    await page.locator("aside").screenshot(path=screenshot_path("widget-gateway-refused"))
    # The store's own page still gets it with the same token.
    own.tokens = [token]
    mine = await _open(browser, own.url + "/", MOBILE)
    await expect(mine.page.locator(".lmw-headline")).to_have_text("Your parcel is out for delivery")
