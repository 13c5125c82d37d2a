"""Short tracking links over HTTP (SQLite and PostgreSQL): shape, reuse, expiry, revocation seen
by every process, and the signed links sent before them still working until they expire."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.appkeys import CLOCK, SETTINGS
from gateway.tracking.short_links import new_token
from gateway.tracking.store_links import mint_token
from gateway.tracking.tables import tracking_links
from tests.tracking.tracking_support import (
    AFTER_DELIVERY,
    BEFORE_DELIVERY,
    ON_THE_WAY,
    new_link,
    shipment_json,
    track_shipment,
)

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"}
SHORT_URL = re.compile(r"http://gateway\.test/t/[0-9A-Za-z]{22}")


async def legacy_link(engine: AsyncEngine, shipment_id: str, now: datetime) -> str:
    """A signed, self-describing link as the gateway minted them before short links."""
    async with engine.begin() as conn:
        token, _ = await mint_token(conn, shipment_id, now=now)
    assert "." in token and len(token) > 60
    return f"/t/{token}"


async def status_of(client: TestClient[Any, Any], path: str) -> int:
    return (await client.get(path, headers=BROWSER)).status


async def test_links_are_short_random_and_name_no_shipment(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    second = await new_link(client, tracked.store, tracked.shipment_id)
    shown = (await shipment_json(client, tracked))["tracking_url"]

    for url in (tracked.url, second, shown):
        assert SHORT_URL.fullmatch(url), url
        assert tracked.shipment_id.removeprefix("shp_") not in url
    assert len({tracked.url, second}) == 2  # POST makes a new one each time
    for url in (tracked.url, second, shown):
        assert await status_of(client, url.removeprefix("http://gateway.test")) == 200


async def test_the_shipment_json_hands_out_one_link_until_it_is_30_days_old(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    first = (await shipment_json(client, tracked))["tracking_url"]
    assert (await shipment_json(client, tracked))["tracking_url"] == first

    client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(days=30))
    later = (await shipment_json(client, tracked))["tracking_url"]

    assert later != first and SHORT_URL.fullmatch(later)
    assert await status_of(client, first.removeprefix("http://gateway.test")) == 200  # still works


async def test_a_short_link_ends_90_days_after_it_was_made(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    made = await client.post(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )
    body = await made.json()
    path = body["url"].removeprefix("http://gateway.test")
    assert body["expires_at"] == "2026-06-14T14:00:00Z"  # BEFORE_DELIVERY + 90 days

    client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(days=90, seconds=-1))
    assert await status_of(client, path) == 200
    client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(days=90))
    assert await status_of(client, path) == 404
    assert await status_of(client, path + "/status") == 404


async def test_a_revocation_reaches_every_process_on_the_next_request(
    client: TestClient[Any, Any], engine: AsyncEngine, aiohttp_client: Any
) -> None:
    tracked = await track_shipment(client, engine)
    other: TestClient[Any, Any] = await aiohttp_client(create_app(client.app[SETTINGS]))
    other.app[CLOCK].freeze(AFTER_DELIVERY)
    for process in (client, other):  # both now hold the link in their cache
        assert await status_of(process, tracked.path) == 200

    revoked = await other.delete(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )

    assert revoked.status == 204
    for process in (client, other):
        for suffix in ("", "/status", "/photo"):
            assert await status_of(process, tracked.path + suffix) == 404
        rating = await process.post(tracked.path + "/rating", json={"score": 4})
        assert rating.status == 404


async def test_signed_links_sent_before_short_ones_keep_working(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    legacy = await legacy_link(engine, tracked.shipment_id, AFTER_DELIVERY)

    page = await client.get(legacy, headers=BROWSER)
    status = await client.get(legacy + "/status", headers=BROWSER)
    photo = await client.get(legacy + "/photo", headers=BROWSER)
    rating = await client.post(legacy + "/rating", json={"score": 5, "comment": "fine"})

    assert page.status == 200 and "1Z8R2F610373102544" in await page.text()
    assert (await status.json())["status"] == "delivered"
    assert photo.content_type == "image/jpeg"
    assert rating.status == 201
    await client.delete(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )
    assert await status_of(client, legacy) == 404


async def test_a_token_that_missed_is_found_once_its_link_exists(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    """Misses are not cached: a link committed by another process works on its first request."""
    tracked = await track_shipment(client, engine)
    token = new_token()
    assert await status_of(client, f"/t/{token}") == 404

    async with engine.begin() as conn:  # what another process's POST .../tracking-link writes
        await conn.execute(
            tracking_links.insert().values(
                token=token,
                shipment_id=tracked.shipment_id,
                generation=0,
                created_at=AFTER_DELIVERY,
                expires_at=AFTER_DELIVERY + timedelta(days=30),
            )
        )

    assert await status_of(client, f"/t/{token}") == 200
