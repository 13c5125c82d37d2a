"""Helpers for the tracking-page tests: a shipment with a UPS timeline, links, a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, ViewportSize, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.support import Store, connect_carrier, load_fixture, make_store, post_fixture

TRACKING_NUMBER: Final = "1Z8R2F610373102544"
# The UPS fixtures of 1Z8R2F610373102544, oldest scan first; delivered 2026-03-16T19:27:44Z.
ON_THE_WAY: Final = (
    "departed_facility_utc_next_day",
    "late_scan_after_delivery",
    "out_for_delivery",
)
DELIVERED: Final = (*ON_THE_WAY, "delivered_signature_and_photo")
# Two hours after delivery, in the fixtures' March: links live, ratings open.
AFTER_DELIVERY: Final = datetime(2026, 3, 16, 21, 30, tzinfo=UTC)
BEFORE_DELIVERY: Final = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
SCREENSHOTS: Final = Path(__file__).resolve().parents[1] / "screenshots"
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MOBILE: Final = ViewportSize(width=390, height=844)
DESKTOP: Final = ViewportSize(width=1280, height=900)


@dataclass
class Tracked:
    store: Store
    shipment_id: str
    url: str  # the tracking link as the API gives it (public URL http://gateway.test)

    @property
    def path(self) -> str:
        return self.url.removeprefix("http://gateway.test")

    @property
    def token(self) -> str:
        return self.path.removeprefix("/t/")


async def track_shipment(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    scans: tuple[str, ...] = DELIVERED,
    *,
    locale: str = "en-US",
    store_name: str = "Corner Books",
    now: datetime = AFTER_DELIVERY,
    store: Store | None = None,
) -> Tracked:
    """A registered shipment fed `scans` through /hooks/ups, and a fresh link to its page."""
    client.app[CLOCK].freeze(now)
    store = store or await make_store(engine, store_name)
    registered = await client.post(
        "/v1/shipments",
        json={
            "tracking_number": TRACKING_NUMBER,
            "carrier": "ups",
            "order_id": "A-1001",
            "recipient": {
                "name": "Jane Doe",
                "phone": "+15555550123",
                "email": "jane.doe@example.com",
                "locale": locale,
                "timezone": "America/New_York",
            },
        },
        headers=store.headers,
    )
    assert registered.status == 201, await registered.text()
    shipment_id = (await registered.json())["id"]
    hook_path = await connect_carrier(client, store, load_fixture("ups", scans[0]))
    for case in scans:
        response = await post_fixture(client, hook_path, load_fixture("ups", case))
        assert response.status == 202, await response.text()
    return Tracked(store, shipment_id, await new_link(client, store, shipment_id))


async def new_link(client: TestClient[Any, Any], store: Store, shipment_id: str) -> str:
    response = await client.post(
        f"/v1/shipments/{shipment_id}/tracking-link", headers=store.headers
    )
    assert response.status == 200, await response.text()
    url: str = (await response.json())["url"]
    return url


async def shipment_json(client: TestClient[Any, Any], tracked: Tracked) -> dict[str, Any]:
    response = await client.get(
        f"/v1/shipments/{tracked.shipment_id}", headers=tracked.store.headers
    )
    assert response.status == 200
    data: dict[str, Any] = await response.json()
    return data


async def link_stats(client: TestClient[Any, Any], tracked: Tracked) -> dict[str, Any]:
    response = await client.get(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )
    assert response.status == 200
    data: dict[str, Any] = await response.json()
    return data


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's headless Chromium (never a downloaded one)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
