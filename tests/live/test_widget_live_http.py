"""The widget's live stream over HTTP (real Redis): the page's stream, fenced to one origin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.live.hub import LIVE_OPTIONS, StreamOptions
from gateway.platform.appkeys import CLOCK
from gateway.platform.http.edge import SERVER_OPTIONS
from gateway.platform.settings import Settings
from tests.drivers.city import T0, latlon
from tests.live.gateway_support import drive, events, own_delivery
from tests.live.widget_support import SHOP, widget_token

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _stream(client: TestClient[Any, Any], token: str, origin: str) -> Any:
    return await client.get(
        f"/widget/{token}/live", headers={"Origin": origin, "Accept": "text/event-stream"}
    )


async def test_the_tokens_origin_gets_state_then_positions(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    token = (await widget_token(client, delivery.store, delivery.shipments[0]))["token"]
    stream = await _stream(client, token, SHOP)
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    assert stream.headers["Access-Control-Allow-Origin"] == SHOP
    assert stream.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in stream.headers
    [(_, state)] = await events(stream, "state")
    assert state["tracking_number"] == "LM1"
    assert "contact" not in state and "proof" not in state
    assert state["assets"]["static_url"].startswith("/static/")
    assert state["live"]["driver"]["lon"] == pytest.approx(latlon(100, 0)[1])
    await drive(client, delivery, 400, 20)
    got = await events(stream, "position")
    assert got[-1][1]["lon"] == pytest.approx(latlon(400, 0)[1])
    stream.close()


async def test_another_origin_gets_no_stream(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    token = (await widget_token(client, delivery.store, delivery.shipments[0]))["token"]
    for origin in ("https://evil.example", "null"):
        response = await _stream(client, token, origin)
        assert response.status == 401
        assert await response.read() == b""
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers.get("Content-Type", "") != "text/event-stream"


async def test_deleting_the_token_ends_its_stream_with_gone(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    token = (await widget_token(client, delivery.store, delivery.shipments[0]))["token"]
    kept = (await widget_token(client, delivery.store, delivery.shipments[0]))["token"]
    ended, going_on = await _stream(client, token, SHOP), await _stream(client, kept, SHOP)
    await events(ended, "state")
    await events(going_on, "state")
    deleted = await client.delete(f"/v1/widget-tokens/{token}", headers=delivery.headers())
    assert deleted.status == 204
    [(_, gone)] = await events(ended, "gone")
    assert gone == {"text": "This tracking link is no longer active."}
    assert await ended.content.read() == b"\n"  # the event's blank line, then the end
    # The other token's stream re-checked and carries on: the driver's next ping arrives.
    await drive(client, delivery, 300, 10)
    assert (await events(going_on, "position"))[-1][0] == "position"
    going_on.close()
    response = await _stream(client, token, SHOP)
    assert (response.status, await response.read()) == (401, b"")


async def test_revoking_the_links_ends_the_widgets_stream(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    token = (await widget_token(client, delivery.store, delivery.shipments[0]))["token"]
    stream = await _stream(client, token, SHOP)
    await events(stream, "state")
    revoked = await client.delete(
        f"/v1/shipments/{delivery.shipments[0]}/tracking-link", headers=delivery.headers()
    )
    assert revoked.status == 204
    await events(stream, "gone")
    response = await _stream(client, token, SHOP)
    assert (response.status, await response.read()) == (404, b"")
    assert response.headers["Access-Control-Allow-Origin"] == SHOP


@pytest.fixture
async def quick(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """The gateway with a heartbeat every 0.2 s and a token check every 0.3 s."""
    app = create_app(settings)
    app[LIVE_OPTIONS] = StreamOptions(heartbeat_s=0.2, recheck_s=0.3, retry_ms=100)
    server = TestServer(app)
    await server.start_server(**SERVER_OPTIONS)
    client: TestClient[Any, Any] = await aiohttp_client(server)
    yield client


async def test_a_token_expiring_while_connected_ends_with_gone(
    quick: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(quick, engine)
    issued = await widget_token(quick, delivery.store, delivery.shipments[0], ttl_s=60)
    stream = await _stream(quick, issued["token"], SHOP)
    await events(stream, "state")
    quick.app[CLOCK].freeze(T0 + timedelta(seconds=61))
    await events(stream, "gone")
    assert (await stream.content.read()).strip() == b""
    response = await _stream(quick, issued["token"], SHOP)
    assert (response.status, await response.read()) == (401, b"")
