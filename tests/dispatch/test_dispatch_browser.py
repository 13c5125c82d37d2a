"""The console in real headless Chromium: log in with the API key, watch a simulated day (the
gateway's clock following the simulation), see drivers move and alerts arrive without a reload,
pick a driver, log out; and a console whose map tiles are down.

Screenshots land in tests/screenshots/dispatch-*.png (git-ignored) for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, Route, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from gateway.simulate.play import Tally
from gateway.simulate.runner import Options, simulate
from tests.dispatch.test_dispatch_board_http import _fleet
from tests.drivers.city import T0, ping_at
from tests.drivers.drivers_support import send_pings
from tests.live.fake_tiles import svg_tile
from tests.simulate.sim_support import SimGateway, sim_gateway_fixture
from tests.support import make_store
from tests.tracking.tracking_support import chromium, screenshot_path

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SPEEDUP = 80.0
sim_gateway = sim_gateway_fixture(SPEEDUP)
DESKTOP = {"width": 1440, "height": 900}
TILES = "https://tile.openstreetmap.org/**"
_TILE = re.compile(r"/(\d+)/(\d+)/(\d+)\.png$")


async def _fake_tiles(route: Route) -> None:
    match = _TILE.search(route.request.url)
    assert match
    body = svg_tile(int(match[2]), int(match[3]))
    await route.fulfill(body=body, content_type="image/svg+xml")


def _watch(page: Page) -> list[str]:
    """Console messages and page errors (a CSP refusal shows up here)."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(str(error)))
    return messages


async def _log_in(page: Page, base: str, api_key: str) -> None:
    await page.goto(f"{base}/dispatch")
    await expect(page).to_have_url(f"{base}/dispatch/login")
    await expect(page.locator("#dx-timezone-text")).to_have_text("America/Chicago")
    await page.screenshot(path=screenshot_path("dispatch-login"))
    await page.fill("#api_key", api_key)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{base}/dispatch")


async def test_the_console_follows_a_simulated_day(
    sim_gateway: SimGateway, engine: AsyncEngine
) -> None:
    store = await make_store(engine, "Windy City Books")
    options = Options(sim_gateway.url, store.api_key, seed=7, speedup=SPEEDUP)
    day = asyncio.create_task(simulate(options, clock=sim_gateway.clock))
    try:
        async with chromium() as browser:
            context = await browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago")
            page = await context.new_page()
            messages = _watch(page)
            await page.route(TILES, _fake_tiles)
            for _ in range(300):  # until the store is set up and the day has begun
                if sim_gateway.clock.offset_s():
                    break
                await asyncio.sleep(0.1)
            await _log_in(page, sim_gateway.url, store.api_key)
            tally = await _watch_the_day(page, day)
            await _pick_a_driver_and_log_out(page, sim_gateway.url)
            signed = tally.rounds[0].shipments["maya-2"]["tracking_url"]
            await _proof_on_the_tracking_page(page, sim_gateway.url, signed)
            assert not [m for m in messages if "Content Security Policy" in m], messages
            assert not [m for m in messages if "rror" in m], messages
    finally:
        day.cancel()
        await asyncio.gather(day, return_exceptions=True)


async def _watch_the_day(page: Page, day: asyncio.Task[Tally]) -> Tally:
    await expect(page.locator("#dx-live")).to_have_attribute("data-state", "open")
    await expect(page.locator(".dx-driver")).to_have_count(4)
    await expect(page.locator(".dx-driver-name")).to_have_text(
        ["Luis Ortega", "Maya Chen", "Priya Nair", "Sam Okafor"]
    )
    await expect(page.locator(".dx-stop-marker")).to_have_count(15)
    await _positions_at_least(page, 20)
    maya = page.locator(".leaflet-marker-icon.dx-marker").first
    before = await maya.bounding_box()
    await page.wait_for_timeout(1500)
    assert before != await maya.bounding_box()  # the vans move without a reload
    await expect(page.locator(".dx-alert.kind-off_route")).to_have_count(1, timeout=60_000)
    await expect(page.locator(".dx-alert.kind-off_route .dx-alert-title")).to_have_text(
        "Luis Ortega is off route"
    )
    await page.screenshot(path=screenshot_path("dispatch-midday"))
    tally = await day
    assert tally.errors == []
    for kind, count in (
        ("late", 2),
        ("back_on_route", 1),
        ("failed_attempt", 1),
        ("low_rating", 1),
    ):
        await expect(page.locator(f".dx-alert.kind-{kind}")).to_have_count(count, timeout=20_000)
    await expect(page.locator("#dx-delivered")).to_have_text("14", timeout=20_000)
    await expect(page.locator("#dx-delivered-sub")).to_have_text("1 failed attempt")
    await expect(page.locator("#dx-ontime")).to_have_text("93%")  # 13 of 14 promises kept
    await expect(page.locator("#dx-ratings li")).to_have_count(4)
    await expect(page.locator(".dx-stop-marker.is-done")).to_have_count(14)
    await expect(page.locator(".dx-stop-marker.is-failed")).to_have_count(1)
    await page.screenshot(path=screenshot_path("dispatch-day-done"))
    return tally


async def _proof_on_the_tracking_page(page: Page, base: str, tracking_url: str) -> None:
    """The customer of the signed delivery sees the photo, the signature and who signed."""
    await page.goto(base + "/t/" + tracking_url.split("/t/", 1)[1])
    await expect(page.locator("#received-by")).to_have_text("Jordan Alvarez")
    for image in (page.locator(".pod-photo"), page.locator(".pod-signature")):
        await image.scroll_into_view_if_needed()
        await expect(image).to_have_js_property("complete", True)
        assert await image.evaluate("img => img.naturalWidth") > 100
    await page.locator("#proof").screenshot(path=screenshot_path("dispatch-sim-proof-on-page"))


async def _positions_at_least(page: Page, count: int) -> None:
    """The page's script counts the positions it received (no eval: the CSP forbids it)."""
    for _ in range(300):
        if int(await page.locator("html").get_attribute("data-positions") or 0) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} positions reached the page")


async def _pick_a_driver_and_log_out(page: Page, base: str) -> None:
    luis = page.locator(".dx-driver", has_text="Luis Ortega")
    await luis.locator(".dx-driver-head").click()
    await expect(luis).to_have_class(re.compile(r"\bis-selected\b"))
    await expect(page.locator("path.dx-route.is-faded")).to_have_count(3)
    await expect(page.locator("path.dx-trail")).to_have_count(1)  # where he really drove
    await page.wait_for_timeout(800)  # the map flies to the route
    await page.screenshot(path=screenshot_path("dispatch-driver-selected"))
    await page.click(".dx-logout button")
    await expect(page).to_have_url(f"{base}/dispatch/login")
    await page.goto(f"{base}/dispatch")
    await expect(page).to_have_url(f"{base}/dispatch/login")  # the session is gone


async def test_without_map_tiles_the_console_still_shows_everything(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0 + timedelta(minutes=5))
    store = await make_store(engine, "Corner Books")
    driver, _ = await _fleet(client, store, "Ana Acme", "A")
    await send_pings(client, driver, [ping_at(0, 0, 240), ping_at(60, 0, 250)])
    base = str(client.make_url("")).rstrip("/")
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1000, "height": 800})
        page = await context.new_page()
        messages = _watch(page)
        await page.route(TILES, lambda route: route.abort())
        await page.goto(f"{base}/dispatch/login")
        await page.fill("#api_key", store.api_key)
        await page.click("button[type=submit]")
        await expect(page.locator("#dx-map-note")).to_be_visible()
        await expect(page.locator(".dx-map")).to_have_class(re.compile("dx-tiles-off"))
        await expect(page.locator(".dx-marker")).to_have_count(1)
        await expect(page.locator(".dx-stop-marker")).to_have_count(3)
        await expect(page.locator(".dx-driver-seen")).to_have_text(re.compile(r"^Seen \d\d:\d\d"))
        await expect(page.locator(".dx-driver-next")).to_have_text(re.compile("^Next: A1 Main St"))
        await page.screenshot(path=screenshot_path("dispatch-no-tiles"), full_page=True)
        assert not [m for m in messages if "Content Security Policy" in m], messages
