"""Tracking links over HTTP on SQLite and PostgreSQL: minting, revoking, expiry, the one 404,
page headers, opens, and what HEAD and preview bots may not change."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from gateway.tracking.links import mint
from gateway.tracking.store_links import mint_token
from tests.support import connect_carrier, load_fixture, make_store, post_fixture
from tests.tracking.tracking_support import (
    AFTER_DELIVERY,
    BEFORE_DELIVERY,
    ON_THE_WAY,
    link_stats,
    new_link,
    shipment_json,
    track_shipment,
)

DELIVERED_AT = datetime(2026, 3, 16, 19, 27, 44, tzinfo=UTC)
BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1"}
PREVIEW_BOTS = [
    "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage
    "WhatsApp/2.23.20.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "TelegramBot (like TwitterBot)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "",
]


async def test_links_are_tenant_scoped(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    other = await make_store(engine, "Other")
    base = f"/v1/shipments/{tracked.shipment_id}/tracking-link"

    answers = [
        (await client.post(base, headers=other.headers)).status,
        (await client.delete(base, headers=other.headers)).status,
        (await client.get(base, headers=other.headers)).status,
        (
            await client.post("/v1/shipments/shp_nope/tracking-link", headers=tracked.store.headers)
        ).status,
    ]

    assert answers == [404, 404, 404, 404]
    assert (await client.get(tracked.path, headers=BROWSER)).status == 200  # not revoked


async def test_shipment_json_has_a_working_link(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    url = (await shipment_json(client, tracked))["tracking_url"]

    assert url.startswith("http://gateway.test/t/")
    page = await client.get(url.removeprefix("http://gateway.test"), headers=BROWSER)
    assert page.status == 200
    assert "1Z8R2F610373102544" in await page.text()


async def test_links_end_30_days_after_delivery(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    early = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    minted_before = early.path  # carries a 90-day bound only
    fixture = load_fixture("ups", "delivered_signature_and_photo")
    await post_fixture(client, await connect_carrier(client, early.store, fixture), fixture)
    client.app[CLOCK].freeze(AFTER_DELIVERY)
    response = await client.post(
        f"/v1/shipments/{early.shipment_id}/tracking-link", headers=early.store.headers
    )
    body = await response.json()
    assert body["expires_at"] == "2026-04-15T19:27:44Z"

    client.app[CLOCK].freeze(DELIVERED_AT + timedelta(days=30, seconds=-1))
    assert (await client.get(minted_before, headers=BROWSER)).status == 200
    client.app[CLOCK].freeze(DELIVERED_AT + timedelta(days=30))
    assert (await client.get(minted_before, headers=BROWSER)).status == 404
    again = await client.post(
        f"/v1/shipments/{early.shipment_id}/tracking-link", headers=early.store.headers
    )
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "links_ended"
    assert (await shipment_json(client, early))["tracking_url"] is None


async def test_revocation_applies_to_the_next_request(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    second = (await new_link(client, tracked.store, tracked.shipment_id)).removeprefix(
        "http://gateway.test"
    )
    assert (await client.get(tracked.path, headers=BROWSER)).status == 200

    revoked = await client.delete(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )

    assert revoked.status == 204
    for path in (tracked.path, second, tracked.path + "/status", tracked.path + "/photo"):
        assert (await client.get(path, headers=BROWSER)).status == 404, path
    rating = await client.post(tracked.path + "/rating", json={"score": 5})
    assert rating.status == 404
    fresh = (await new_link(client, tracked.store, tracked.shipment_id)).removeprefix(
        "http://gateway.test"
    )
    assert (await client.get(fresh, headers=BROWSER)).status == 200


async def test_every_bad_link_gets_the_same_html_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    async with engine.begin() as conn:  # a signed link as sent before short links
        signed, _ = await mint_token(conn, tracked.shipment_id, now=AFTER_DELIVERY)
    claims = signed.split(".")
    forged_key = mint(
        b"k" * 32, "deadbeef", tracked.shipment_id, 0, AFTER_DELIVERY.replace(year=2027)
    )
    expired = mint(b"k" * 32, "deadbeef", tracked.shipment_id, 0, AFTER_DELIVERY)
    short = tracked.token
    paths = [
        "/t/garbage",
        "/t/" + short[:-1] + ("a" if short[-1] != "a" else "b"),  # altered short token
        "/t/" + short + "x",  # one character too many
        "/t/" + claims[0] + "." + claims[1][::-1],  # altered tag
        "/t/" + forged_key,  # unknown key id
        "/t/" + expired,
        "/t/" + "x" * 5000,
        tracked.path + "/nothing-here",
        "/t/",
    ]
    await client.delete(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )
    paths += [tracked.path, "/t/" + signed]  # revoked, both kinds

    answers = [await client.get(path, headers=BROWSER) for path in paths]

    assert {r.status for r in answers} == {404}
    assert {r.content_type for r in answers} == {"text/html"}
    bodies = {await r.read() for r in answers}
    assert len(bodies) == 1
    assert b"This tracking link is not available" in bodies.pop()
    assert answers[0].headers["Cache-Control"] == "no-store"


async def test_page_headers_and_strict_csp(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    page = await client.get(tracked.path, headers={**BROWSER, "Accept-Encoding": "gzip"})
    html = await page.text()

    assert page.status == 200
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    csp = dict(
        part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'none'"
    assert "script-src" not in csp and "unsafe" not in page.headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert style is not None and "<script" not in html
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert csp["style-src"] == f"'sha256-{digest}'"
    assert "+15555550123" not in html and "jane.doe@example.com" not in html
    assert "data:image/jpeg" not in html  # the photo is served on its own URL
    photo = await client.get(tracked.path + "/photo")
    assert photo.content_type == "image/jpeg" and (await photo.read())[:2] == b"\xff\xd8"


async def test_status_json_is_the_page_data(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, locale="es-ES")
    response = await client.get(tracked.path + "/status", headers=BROWSER)
    data = await response.json()

    assert response.headers["Cache-Control"] == "no-store"
    assert data["status"] == "delivered" and data["headline"] == "Tu paquete fue entregado"
    assert data["store"] == {"name": "Corner Books"}
    assert data["delivered_at"] == "2026-03-16T19:27:44Z"
    assert [e["status"] for e in data["events"]] == [
        "delivered",
        "out_for_delivery",
        "in_transit",
        "in_transit",
    ]
    assert data["events"][0]["local_time"] == "15:27"  # America/New_York, es-ES clock
    assert data["proof"]["received_by"] == "Holloway"
    assert data["proof"]["photo_url"] == tracked.path + "/photo"
    assert data["contact"] == "+1••••••0123"
    assert data["can_rate"] is True and data["rating"] is None
    assert (await link_stats(client, tracked))["opened_count"] == 0  # JSON reads are not opens


async def test_a_visit_is_recorded_once_per_30_minutes(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    for _ in range(3):
        assert (await client.get(tracked.path, headers=BROWSER)).status == 200
    first = await link_stats(client, tracked)
    client.app[CLOCK].freeze(AFTER_DELIVERY + timedelta(minutes=31))
    await client.get(tracked.path, headers=BROWSER)

    later = await link_stats(client, tracked)
    assert first == {
        "opened_count": 1,
        "first_opened_at": "2026-03-16T21:30:00Z",
        "last_opened_at": "2026-03-16T21:30:00Z",
    }
    assert later["opened_count"] == 2 and later["last_opened_at"] == "2026-03-16T22:01:00Z"


@pytest.mark.parametrize("agent", PREVIEW_BOTS)
async def test_head_and_preview_bots_change_nothing(
    client: TestClient[Any, Any], engine: AsyncEngine, agent: str
) -> None:
    tracked = await track_shipment(client, engine)
    before = await shipment_json(client, tracked)

    head = await client.head(tracked.path, headers=BROWSER)
    bot = await client.get(tracked.path, headers={"User-Agent": agent})
    prefetch = await client.get(tracked.path, headers={**BROWSER, "Sec-Purpose": "prefetch"})

    assert (head.status, bot.status, prefetch.status) == (200, 200, 200)
    assert await head.read() == b""
    preview = await bot.text()
    assert "Corner Books" in preview
    assert "Holloway" not in preview and "1Z8R2F610373102544" not in preview
    after = await shipment_json(client, tracked)
    assert {**after, "tracking_url": None} == {**before, "tracking_url": None}
    assert (await link_stats(client, tracked))["opened_count"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reading_a_page_never_waits_for_sqlite_writers(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    async with engine.begin() as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE)
        await writer.execute(sa.text("SELECT 1"))
        response = await asyncio.wait_for(client.get(tracked.path + "/status"), timeout=5)
    assert response.status == 200
