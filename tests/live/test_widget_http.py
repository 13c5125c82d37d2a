"""The widget's endpoints over HTTP: /widget.js, and CORS for the token's origin only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.live.widget_support import SHOP, widget_token
from tests.tracking.tracking_support import (
    AFTER_DELIVERY,
    BEFORE_DELIVERY,
    ON_THE_WAY,
    TRACKING_NUMBER,
    Tracked,
    track_shipment,
)

WIDGET_JS = Path(__file__).resolve().parents[2] / "gateway" / "live" / "static" / "widget.js"
THIRD = "https://evil.example"


async def _issued(client: TestClient[Any, Any], engine: AsyncEngine) -> tuple[Tracked, str]:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    return tracked, (await widget_token(client, tracked.store, tracked.shipment_id))["token"]


async def _status(client: TestClient[Any, Any], token: str, origin: str | None) -> Any:
    headers = {"Accept": "application/json"} | ({"Origin": origin} if origin else {})
    return await client.get(f"/widget/{token}/status", headers=headers)


async def test_widget_js_is_the_static_file_cached_for_minutes(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/widget.js")
    assert response.status == 200
    assert await response.read() == WIDGET_JS.read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.content_type == "text/javascript"
    etag = response.headers["ETag"]
    again = await client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304
    gzipped = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert await gzipped.read() == WIDGET_JS.read_bytes()  # the client inflates it


async def test_the_tokens_origin_gets_the_status_with_cors(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked, token = await _issued(client, engine)
    response = await _status(client, token, SHOP)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    data = await response.json()
    assert data["headline"] == "Your parcel is out for delivery"
    assert data["tracking_number"] == TRACKING_NUMBER
    assert data["events"][0]["status"] == "out_for_delivery"  # newest first
    assert "contact" not in data and "proof" not in data
    assert set(data["live"]) >= {"destination", "driver", "path", "eta_text"}
    assert set(data["assets"]) == {"static_url", "tiles", "attribution"}
    text = await response.text()
    assert tracked.shipment_id not in text
    assert "0123" not in text and "jane.doe" not in text  # no contact, not even masked


async def test_another_origin_gets_an_empty_refusal(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    _, token = await _issued(client, engine)
    for origin in (THIRD, "https://shop.example.evil.example", "http://shop.example", "null"):
        response = await _status(client, token, origin)
        assert response.status == 401
        assert await response.read() == b""
        # The asking page may read the status (to say "not available"), nothing else.
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Vary"] == "Origin"
        assert "Access-Control-Allow-Credentials" not in response.headers
    no_origin = await _status(client, token, None)
    assert no_origin.status == 401
    assert await no_origin.read() == b""
    assert "Access-Control-Allow-Origin" not in no_origin.headers


async def test_unknown_and_expired_tokens_look_the_same(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    _, token = await _issued(client, engine)
    for bad in ("wt_" + "A" * 32, "wt_short", token[:-1] + ("B" if token[-1] != "B" else "C")):
        response = await _status(client, bad, SHOP)
        assert (response.status, await response.read()) == (401, b"")
    client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(hours=1))
    response = await _status(client, token, SHOP)
    assert (response.status, await response.read()) == (401, b"")
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


async def test_revoking_ends_the_widget(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    tracked, token = await _issued(client, engine)
    other = (await widget_token(client, tracked.store, tracked.shipment_id))["token"]
    deleted = await client.delete(f"/v1/widget-tokens/{token}", headers=tracked.store.headers)
    assert deleted.status == 204
    response = await _status(client, token, SHOP)
    assert (response.status, await response.read()) == (401, b"")
    assert (await _status(client, other, SHOP)).status == 200
    # Revoking the shipment's tracking links ends its widget tokens too.
    revoked = await client.delete(
        f"/v1/shipments/{tracked.shipment_id}/tracking-link", headers=tracked.store.headers
    )
    assert revoked.status == 204
    response = await _status(client, other, SHOP)
    assert (response.status, await response.read()) == (404, b"")
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


async def test_tokens_end_with_tracking_30_days_after_delivery(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)  # delivered 2026-03-16T19:27:44Z
    issued = await widget_token(client, tracked.store, tracked.shipment_id, ttl_s=86400)
    assert issued["expires_at"] == (AFTER_DELIVERY + timedelta(days=1)).isoformat().replace(
        "+00:00", "Z"
    )
    client.app[CLOCK].freeze(AFTER_DELIVERY + timedelta(days=30))
    response = await client.post(
        "/v1/widget-tokens",
        json={"shipment_id": tracked.shipment_id, "origin": SHOP},
        headers=tracked.store.headers,
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "links_ended"
