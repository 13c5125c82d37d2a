"""track.js on the tracking page in real Chromium, fed by the fake gateway's SSE stream."""

from __future__ import annotations

import asyncio
import math
import re
import socket
from collections.abc import Callable

from playwright.async_api import Browser, Locator, Page, ViewportSize, expect

from tests.live.conftest import TOKEN
from tests.live.fake_gateway import FakeGateway
from tests.live.live_data import DRIVER_LABEL, ETA_TEXT, PATH, out_for_delivery, position
from tests.live.live_support import (
    DESKTOP,
    MOBILE,
    Watched,
    center,
    open_page,
    screenshot_path,
    settled_center,
)

GREY_TRUCK = "rgb(138, 147, 163)"


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until `check()` holds (the browser works on its own schedule)."""
    for _ in range(int(timeout_s / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def live_page(
    browser: Browser, gateway: FakeGateway, viewport: ViewportSize = MOBILE
) -> Watched:
    """The tracking page, once its stream is open."""
    watched = await open_page(browser, f"{gateway.url}/t/{TOKEN}", viewport)
    await expect(watched.page.locator("#live-pill")).to_be_visible()
    await until(lambda: gateway.open_streams(TOKEN) == 1)
    return watched


async def trail(locator: Locator, duration_s: float) -> list[tuple[float, float]]:
    """The marker's centre sampled every 50 ms: a glide leaves many points, a jump two."""
    points = []
    for _ in range(int(duration_s / 0.05)):
        points.append(await center(locator))
        await asyncio.sleep(0.05)
    return points


def truck(page: Page) -> Locator:
    return page.locator("#live-map .lm-truck")


async def test_a_position_event_glides_the_truck_without_a_reload(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    page = watched.page
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await page.evaluate("window.__samePage = true")
    home = await center(page.locator("#live-map .lm-dest"))
    before = await settled_center(truck(page))

    gateway.push(TOKEN, "position", position(*PATH[3]))

    points = await trail(truck(page), 1.6)
    after = await settled_center(truck(page))
    assert math.dist(after, home) < math.dist(before, home) - 40  # it drove toward the door
    assert len(set(points) - {before, after}) >= 5  # gliding through the streets, not jumping
    await expect(page.locator("#live-text")).to_have_text(
        "Your driver is 1.1 km away · seen 10:43 AM"
    )
    assert await page.evaluate("window.__samePage") is True
    assert navigations == []
    await watched.assert_clean()


async def test_state_events_update_eta_status_and_timeline(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    page = watched.page
    await expect(page.locator("#live-eta")).to_have_text(ETA_TEXT)
    closer = out_for_delivery()
    closer["headline"] = "Your parcel is almost there"
    closer["live"]["eta_text"] = "Arriving in about 4 min"
    closer["events"].insert(
        0,
        {
            "occurred_at": "2026-03-16T14:40:00Z",
            "status": "out_for_delivery",
            "label": "Out for delivery",
            "description": "Two stops away",
            "location": "Charlotte, NC",
            "local_day": "Today",
            "local_time": "10:40 AM",
        },
    )
    gateway.push(TOKEN, "state", closer)

    await expect(page.locator("#live-eta")).to_have_text("Arriving in about 4 min")
    await expect(page.locator("#headline")).to_have_text("Your parcel is almost there")
    await expect(page.locator(".event .detail").first).to_have_text("Two stops away")
    await expect(page.locator(".event")).to_have_count(4)
    await expect(page).to_have_title("Your parcel is almost there · Corner Books")

    delivered = out_for_delivery()
    delivered.update(
        status="delivered",
        tone="good",
        badge="Delivered",
        headline="Your parcel was delivered",
        summary="Monday, March 16 at 10:51 AM",
    )
    delivered["steps"] = [dict(step, state="done") for step in delivered["steps"]]
    delivered["live"].update(driver=None, eta_text=None, path=[])
    gateway.push(TOKEN, "state", delivered)

    await expect(page.locator("#badge")).to_have_text("Delivered")
    await expect(page.locator("#tracking")).to_have_class(re.compile(r"\btone-good\b"))
    await expect(page.locator(".step.done")).to_have_count(4)
    await expect(page.locator("#live")).to_be_hidden()  # no driver, no ETA: no live card
    await expect(page.locator("#live-refresh")).to_have_text("Delivered! Show proof of delivery")
    await page.screenshot(path=screenshot_path("page-delivered-live-mobile"))
    await watched.assert_clean()


async def test_a_stale_driver_is_greyed_and_says_last_seen(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    page = watched.page
    body = page.locator("#live-map .lm-truck-body")
    await expect(body).not_to_have_css("background-color", GREY_TRUCK)

    gateway.push(TOKEN, "position", position(*PATH[1], stale=True, label=None))

    # No label from the server: the page's own "Last seen {time}", in the recipient's zone.
    await expect(page.locator("#live-text")).to_have_text(re.compile(r"^Last seen 10:43\sAM$"))
    await expect(page.locator("#live-text")).to_have_class(re.compile(r"\blm-stale-text\b"))
    await expect(page.locator("#live-map")).to_have_class(re.compile(r"\blm-stale\b"))
    await expect(body).to_have_css("background-color", GREY_TRUCK)
    await page.wait_for_timeout(1300)  # the glide
    await page.locator("#live").screenshot(path=screenshot_path("page-stale-card"))

    gateway.push(TOKEN, "position", position(*PATH[2], recorded_at="2026-03-16T14:44:00Z"))
    await expect(page.locator("#live-map")).not_to_have_class(re.compile(r"\blm-stale\b"))
    await expect(page.locator("#live-text")).to_have_text(
        "Your driver is 1.1 km away · seen 10:43 AM"
    )
    await watched.assert_clean()


async def test_a_late_position_never_moves_the_truck_back(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    page = watched.page
    gateway.push(TOKEN, "position", position(*PATH[3], recorded_at="2026-03-16T14:45:00Z"))
    await expect(page.locator("#live-text")).to_have_text(re.compile("1.1 km"))
    ahead = await settled_center(truck(page))
    gateway.push(
        TOKEN,
        "position",
        position(*PATH[1], recorded_at="2026-03-16T14:44:00Z", label="an older ping"),
    )
    await page.wait_for_timeout(600)
    assert await settled_center(truck(page)) == ahead
    await expect(page.locator("#live-text")).not_to_have_text("an older ping")
    await watched.assert_clean()


async def test_gone_shows_the_message_and_closes_the_stream(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    page = watched.page

    gateway.revoke(TOKEN)

    await expect(page.locator("#live-gone")).to_have_text("This tracking link is no longer active.")
    await expect(page.locator("#live")).to_be_hidden()
    await page.wait_for_timeout(1500)  # the stream asks browsers to retry after 0.4 s
    assert gateway.connects[TOKEN] == 1
    assert gateway.open_streams(TOKEN) == 0
    await page.screenshot(path=screenshot_path("page-gone-mobile"))
    await watched.assert_clean()


async def test_a_link_revoked_while_disconnected_ends_as_gone(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    gateway.shipments[TOKEN].gone = True  # no `gone` event: the server restarted meanwhile
    gateway.drop_streams(TOKEN)

    await expect(watched.page.locator("#live-gone")).to_have_text(
        "This tracking link is no longer active."
    )
    await watched.assert_clean()


async def test_reconnects_resume_from_the_last_event_id(
    gateway: FakeGateway, browser: Browser
) -> None:
    watched = await live_page(browser, gateway)
    gateway.push(TOKEN, "position", position(*PATH[2]))
    await expect(watched.page.locator("#live-text")).to_have_text(re.compile("1.1 km"))
    last_id = gateway._next_id

    gateway.drop_streams(TOKEN)

    await until(lambda: gateway.connects[TOKEN] == 2)
    assert gateway.last_event_ids == [None, str(last_id)]
    await expect(watched.page.locator("#live-pill")).to_have_text("Live")
    await watched.assert_clean()


async def test_without_tiles_the_pins_and_the_text_remain(browser: Browser) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    gateway = FakeGateway(tiles=dead + "/{z}/{x}/{y}.png")
    gateway.add(TOKEN, out_for_delivery())
    await gateway.start()
    try:
        watched = await live_page(browser, gateway)
        page = watched.page
        await expect(page.locator("#live-map")).to_have_class(re.compile(r"\blm-tiles-off\b"))
        await expect(page.locator("#live-note")).to_be_visible()
        await expect(truck(page)).to_be_visible()
        await expect(page.locator("#live-map .lm-dest")).to_be_visible()
        await expect(page.locator("#live-text")).to_have_text(DRIVER_LABEL)
        map_box = await page.locator("#live-map").bounding_box()
        assert map_box is not None
        for marker in (truck(page), page.locator("#live-map .lm-dest")):
            x, y = await center(marker)
            assert map_box["x"] < x < map_box["x"] + map_box["width"]
            assert map_box["y"] < y < map_box["y"] + map_box["height"]
        await page.locator("#live").screenshot(path=screenshot_path("page-no-tiles-card"))
        await watched.assert_clean()
    finally:
        await gateway.stop()


async def test_without_javascript_the_page_keeps_eta_and_driver_text(
    gateway: FakeGateway, browser: Browser
) -> None:
    context = await browser.new_context(viewport=MOBILE, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{gateway.url}/t/{TOKEN}")
    await expect(page.locator("#live-eta")).to_have_text(ETA_TEXT)
    await expect(page.locator("#live-text")).to_have_text(DRIVER_LABEL)
    await expect(page.locator("#live-map")).to_be_hidden()  # an empty box helps nobody
    await expect(page.locator("#live-pill")).to_be_hidden()
    assert gateway.connects[TOKEN] == 0


async def test_screenshots_mobile_dark_and_desktop(gateway: FakeGateway, browser: Browser) -> None:
    for name, viewport in (("page-mobile", MOBILE), ("page-desktop", DESKTOP)):
        watched = await live_page(browser, gateway, viewport)
        await watched.page.wait_for_timeout(800)  # tiles fade in
        await watched.page.screenshot(path=screenshot_path(name + "-first-screen"))
        await watched.page.screenshot(path=screenshot_path(name), full_page=True)
        await watched.assert_clean()
        await watched.page.context.close()
        await until(lambda: gateway.open_streams(TOKEN) == 0)
    dark = await browser.new_context(viewport=MOBILE, color_scheme="dark", device_scale_factor=2)
    page = await dark.new_page()
    await page.goto(f"{gateway.url}/t/{TOKEN}")
    await expect(page.locator("#live-pill")).to_be_visible()
    await page.wait_for_timeout(800)
    await page.screenshot(path=screenshot_path("page-mobile-dark-first-screen"))
