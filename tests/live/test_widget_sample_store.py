"""The demo's sample store page (gateway/demo/sample_store.py) against the real gateway: a token
per view for the page's own origin, a strict CSP, and the widget live on it in Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.demo.sample_store import SampleStore, serve_sample_store
from tests.drivers.city import T0
from tests.drivers.drivers_support import stop_event
from tests.live.gateway_support import Delivery, drive, own_delivery
from tests.live.live_support import DESKTOP, MOBILE, screenshot_path
from tests.live.test_widget_gateway_browser import OSM, _open

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def delivery(client: TestClient[Any, Any], engine: AsyncEngine) -> Delivery:
    under_way = await own_delivery(client, engine)
    for shipment_id in under_way.shipments:
        loaded = await stop_event(client, under_way.driver, shipment_id, "out_for_delivery", T0)
        assert loaded.status in (200, 201, 202), await loaded.text()
    await drive(client, under_way, 100, 0)
    return under_way


@pytest.fixture
async def store_page(client: TestClient[Any, Any], delivery: Delivery) -> AsyncIterator[str]:
    gateway = str(client.make_url("")).rstrip("/")
    shop = SampleStore(gateway, gateway, delivery.store.api_key, OSM)
    runner, url = await serve_sample_store(shop, "127.0.0.1", 0)
    try:
        yield url
    finally:
        await runner.cleanup()


async def test_each_view_gets_a_token_for_the_pages_origin_under_a_strict_csp(
    client: TestClient[Any, Any], delivery: Delivery, store_page: str
) -> None:
    gateway = str(client.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        async with http.get(store_page) as response:
            assert response.status == 200
            html, csp = await response.text(), response.headers["Content-Security-Policy"]
        async with http.get(store_page) as again:
            second = await again.text()
    tokens = re.findall(r'data-lastmile-shipment data-token="(wt_[^"]+)"', html)
    assert len(set(tokens)) == 1  # the div, and the snippet shown to developers
    assert tokens[0] not in second  # a fresh token per view
    assert "LM1" in html  # the parcel the driver brings next (soonest ETA)
    assert f'<script src="{gateway}/widget.js" async></script>' in html
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert f"script-src {gateway};" in csp and f"connect-src {gateway};" in csp
    assert OSM in csp.split("img-src")[1].split(";")[0]
    origin = store_page.rstrip("/")
    status = await client.get(f"/widget/{tokens[0]}/status", headers={"Origin": origin})
    assert status.status == 200
    assert status.headers["Access-Control-Allow-Origin"] == origin


async def test_the_sample_store_page_shows_the_widget_live(
    browser: Browser, delivery: Delivery, store_page: str
) -> None:
    watched = await _open(browser, store_page, DESKTOP)
    page = watched.page
    await expect(page.locator(".lm-pill")).to_have_text("Live")
    await expect(page.locator(".lmw-headline")).to_have_text("Your parcel is out for delivery")
    await expect(page.locator(".lm-truck")).to_be_visible()
    await page.wait_for_timeout(700)  # tiles fade in
    await page.screenshot(path=screenshot_path("widget-sample-store"))
    await watched.assert_clean()
    phone = await _open(browser, store_page, MOBILE)
    await expect(phone.page.locator(".lm-truck")).to_be_visible()
    await phone.page.wait_for_timeout(700)
    await phone.page.screenshot(path=screenshot_path("widget-sample-store-mobile"), full_page=True)
    await phone.assert_clean()
