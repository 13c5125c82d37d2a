"""widget.js on a store's page from another origin, in real Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.live.conftest import TOKEN
from tests.live.fake_gateway import FakeGateway
from tests.live.fake_shop import FakeShop
from tests.live.live_data import ETA_TEXT, PATH, out_for_delivery, position
from tests.live.live_support import DESKTOP, MOBILE, Watched, open_page, screenshot_path

WIDGET = "wt-ofd"
INK = "rgb(20, 22, 26)"


@pytest.fixture
async def shop(gateway: FakeGateway) -> AsyncIterator[FakeShop]:
    store = FakeShop(gateway=gateway.url, tokens=[WIDGET])
    await store.start()
    gateway.add_widget(WIDGET, TOKEN, store.url)
    try:
        yield store
    finally:
        await store.stop()


async def shadow_count(page: Page, selector: str) -> list[int]:
    """How many `selector` each widget div holds inside its shadow root (-1: no shadow root)."""
    counts: list[int] = await page.evaluate(
        """(sel) => [...document.querySelectorAll('[data-lastmile-shipment]')].map(
            (host) => host.shadowRoot ? host.shadowRoot.querySelectorAll(sel).length : -1)""",
        selector,
    )
    return counts


async def rendered(browser: Browser, shop: FakeShop, viewport: ViewportSize = DESKTOP) -> Watched:
    watched = await open_page(browser, shop.url + "/", viewport)
    await expect(watched.page.locator(".lm-pill")).to_have_text("Live")
    await expect(watched.page.locator(".lm-truck")).to_be_visible()
    return watched


async def test_the_widget_renders_live_in_a_shadow_root_on_another_origin(
    gateway: FakeGateway, shop: FakeShop, browser: Browser
) -> None:
    watched = await rendered(browser, shop)
    page = watched.page
    await expect(page.locator(".lmw-headline")).to_have_text("Your parcel is out for delivery")
    await expect(page.locator(".lmw-eta")).to_have_text(ETA_TEXT)
    await expect(page.locator(".lmw-steps li.current")).to_have_text("Out for delivery")
    await expect(page.locator(".lmw-events li")).to_have_count(3)
    assert await shadow_count(page, ".lm-w") == [1]
    assert await page.evaluate("document.querySelector('.lm-w, .lm-truck')") is None  # light DOM
    assert await watched.new_globals() == ["LastmileLive"]  # Leaflet's L and leaflet put back
    # Leaflet's stylesheet stays inside: the store's own .leaflet-container keeps its look.
    await expect(page.locator("#own-box")).to_have_css("background-color", "rgb(255, 228, 196)")
    await page.wait_for_timeout(700)  # tiles fade in
    await page.screenshot(path=screenshot_path("widget-desktop"))

    before = await page.locator(".lm-truck").bounding_box()
    gateway.push(TOKEN, "position", position(*PATH[3]))
    await expect(page.locator(".lmw-driver")).to_have_text(
        "Your driver is 1.1 km away · seen 10:43 AM"
    )
    await page.wait_for_timeout(1400)
    assert await page.locator(".lm-truck").bounding_box() != before
    closer = out_for_delivery()
    closer["live"]["eta_text"] = "Arriving in about 4 min"
    gateway.push(TOKEN, "state", closer)
    await expect(page.locator(".lmw-eta")).to_have_text("Arriving in about 4 min")
    assert gateway.status_reads[WIDGET] == 1
    await watched.assert_clean()  # the store's CSP has no 'unsafe-inline' for styles


async def test_the_widget_on_a_phone(shop: FakeShop, browser: Browser) -> None:
    watched = await rendered(browser, shop, MOBILE)
    await watched.page.locator("aside").scroll_into_view_if_needed()
    await watched.page.wait_for_timeout(700)
    await watched.page.screenshot(path=screenshot_path("widget-mobile"), full_page=True)
    await watched.assert_clean()


async def test_the_host_pages_css_does_not_leak_in(
    gateway: FakeGateway, shop: FakeShop, browser: Browser
) -> None:
    shop.hostile = True
    watched = await rendered(browser, shop)
    page = watched.page
    headline = page.locator(".lmw-headline")
    await expect(headline).to_be_visible()
    await expect(headline).to_have_css("color", INK)
    await expect(headline).to_have_css("font-size", "19px")
    assert "Comic" not in await headline.evaluate("e => getComputedStyle(e).fontFamily")
    await expect(page.locator(".lmw-badge")).to_be_visible()
    await expect(page.locator(".lm-w")).to_have_css("background-color", "rgb(255, 255, 255)")
    await expect(page.locator(".lm-w")).to_have_css("border-radius", "16px")
    map_box = await page.locator(".lm-map").bounding_box()
    assert map_box is not None and map_box["height"] == 200
    await page.wait_for_timeout(700)
    await page.screenshot(path=screenshot_path("widget-hostile-host"))
    await watched.assert_clean()


async def test_loaded_twice_renders_once_per_div(
    gateway: FakeGateway, shop: FakeShop, browser: Browser
) -> None:
    gateway.add("tok-2", out_for_delivery())
    gateway.add_widget("wt-2", "tok-2", shop.url)
    shop.tokens = [WIDGET, "wt-2"]
    shop.scripts = 2
    watched = await open_page(browser, shop.url + "/", DESKTOP)
    page = watched.page
    await expect(page.locator(".lm-truck")).to_have_count(2)
    assert await shadow_count(page, ".lm-w") == [1, 1]
    assert await shadow_count(page, ".lm-map") == [1, 1]
    assert (gateway.status_reads[WIDGET], gateway.status_reads["wt-2"]) == (1, 1)
    assert await page.evaluate("LastmileLive.widget.version") == "1.0.0"
    assert await watched.new_globals() == ["LastmileLive"]
    await watched.assert_clean()


async def test_a_refused_token_gets_a_neutral_message(shop: FakeShop, browser: Browser) -> None:
    shop.tokens = ["wt-unknown"]
    watched = await open_page(browser, shop.url + "/", MOBILE)
    message = watched.page.locator(".lmw-msg")
    await expect(message).to_have_text("Tracking isn\u2019t available for this order.")
    await expect(message).to_have_css("color", "rgb(93, 100, 114)")
    await watched.page.locator("aside").screenshot(path=screenshot_path("widget-refused"))
    await watched.assert_clean()


async def test_a_network_failure_gets_a_neutral_message(shop: FakeShop, browser: Browser) -> None:
    context = await browser.new_context(viewport=MOBILE)
    await context.route(re.compile(r"/widget/.*/status$"), lambda route: route.abort())
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(shop.url + "/")
    await expect(page.locator(".lmw-msg")).to_have_text(
        "Tracking can\u2019t be reached right now. Trying again shortly."
    )
    assert errors == []


async def test_gone_closes_the_widgets_stream(
    gateway: FakeGateway, shop: FakeShop, browser: Browser
) -> None:
    watched = await rendered(browser, shop)
    gateway.revoke(TOKEN)
    await expect(watched.page.locator(".lmw-gone")).to_have_text(
        "This tracking link is no longer active."
    )
    await expect(watched.page.locator(".lm-map")).to_be_hidden()
    await watched.page.wait_for_timeout(1200)
    assert gateway.connects[TOKEN] == 1
    await watched.assert_clean()
