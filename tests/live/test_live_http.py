"""The real gateway's live surfaces over HTTP (real Redis, real pub/sub): the `live` object,
who may see the driver, stale positions, the SSE stream and its ends, the static files."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.live.static_files import STATIC_DIR, static_version
from gateway.platform.appkeys import CLOCK
from gateway.platform.names import LIVE_DRIVER_CHANNEL
from tests.drivers.city import T0, latlon
from tests.drivers.drivers_support import stop_event
from tests.live.gateway_support import drive, events, own_delivery, status

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_the_active_stops_customer_sees_the_driver_and_the_others_do_not(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    await drive(client, delivery, 300, 30)

    first = (await status(client, delivery.paths[0]))["live"]
    lat, lon = latlon(300, 0)
    assert first["driver"]["lat"] == pytest.approx(lat)
    assert first["driver"]["lon"] == pytest.approx(lon)
    assert first["driver"]["stale"] is False
    # 504 m from the door, seen at 9:00:30 AM in Chicago (CDT, UTC-5 on March 16); CLDR puts a
    # narrow no-break space before AM
    assert first["driver"]["label"] == "Your driver is 0.3 mi away · seen 9:00\u202fAM"
    assert first["destination"]["lat"] == pytest.approx(latlon(804, 0)[0])
    assert first["path"][0] == [pytest.approx(lat), pytest.approx(lon)]
    assert first["path"][-1] == [first["destination"]["lat"], first["destination"]["lon"]]

    for later in delivery.paths[1:]:  # not their stop yet: no driver, no path
        live = (await status(client, later))["live"]
        assert live["driver"] is None and live["path"] == []
        assert live["destination"] is not None
        assert "lat" not in json.dumps(live["driver"])


async def test_the_next_customer_sees_the_driver_once_the_stop_before_is_done(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 700, 0)
    assert (await status(client, delivery.paths[1]))["live"]["driver"] is None
    client.app[CLOCK].freeze(T0 + timedelta(seconds=60))
    done = await stop_event(client, delivery.driver, delivery.shipments[0], "delivered", T0)
    assert done.status in (200, 201, 202), await done.text()
    assert (await status(client, delivery.paths[1]))["live"]["driver"] is not None
    assert (await status(client, delivery.paths[0]))["live"]["driver"] is None  # delivered


async def test_a_position_is_stale_after_two_minutes_without_a_ping(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 300, 0)
    client.app[CLOCK].freeze(T0 + timedelta(seconds=119))
    assert (await status(client, delivery.paths[0]))["live"]["driver"]["stale"] is False
    client.app[CLOCK].freeze(T0 + timedelta(seconds=121))
    driver = (await status(client, delivery.paths[0]))["live"]["driver"]
    assert driver["stale"] is True
    assert driver["label"] == "Your driver was 0.3 mi away · last seen 9:00\u202fAM"


async def test_the_stream_starts_with_state_and_brings_positions(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    stream = await client.get(f"{delivery.paths[0]}/live", headers={"Last-Event-ID": "42"})
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    assert stream.headers["Cache-Control"] == "no-store"
    assert stream.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in stream.headers
    head = (await stream.content.readline()).decode()
    assert head.startswith("retry: ")
    event_id = (await stream.content.readline()).decode()
    assert re.fullmatch(r"id: \d+\n", event_id)
    [(name, state)] = await events(stream, "state")
    assert name == "state" and state["tracking_number"] == "LM1"
    assert state["live"]["driver"]["lon"] == pytest.approx(latlon(100, 0)[1])

    await drive(client, delivery, 400, 20)
    got = await events(stream, "position")
    assert got[-1][1]["lon"] == pytest.approx(latlon(400, 0)[1])
    assert got[-1][1]["label"].startswith("Your driver is ")
    stream.close()


async def test_the_stream_of_a_later_stop_brings_no_position(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    stream = await client.get(f"{delivery.paths[2]}/live")
    [(_, state)] = await events(stream, "state")
    assert state["live"]["driver"] is None
    await drive(client, delivery, 200, 10)
    await client.delete(
        f"/v1/shipments/{delivery.shipments[2]}/tracking-link", headers=delivery.headers()
    )
    got = await events(stream, "gone")  # the revocation comes after the ping on the same stream
    assert [name for name, _ in got] == ["gone"]


async def test_revoking_the_link_ends_its_stream_with_gone(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    stream = await client.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    revoked = await client.delete(
        f"/v1/shipments/{delivery.shipments[0]}/tracking-link", headers=delivery.headers()
    )
    assert revoked.status == 204
    [(_, gone)] = await events(stream, "gone")
    assert gone == {"text": "This tracking link is no longer active."}
    assert (await stream.content.read()).strip() == b""  # and the server closed it
    again = await client.get(f"{delivery.paths[0]}/live")
    assert again.status == 404 and again.content_type == "text/html"
    assert (await client.get(f"{delivery.paths[0]}/status")).status == 404


async def test_an_expired_link_gets_the_404_page_and_its_stream_ends_with_gone(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(client, engine)
    client.app[CLOCK].freeze(T0 + timedelta(days=400))  # far past any link's expiry
    page = await client.get(delivery.paths[0])
    assert page.status == 404 and "tracking link" in (await page.text()).lower()
    assert (await client.get(f"{delivery.paths[0]}/live")).status == 404


async def test_a_slow_viewer_is_dropped_instead_of_buffered(
    client: TestClient[Any, Any], engine: AsyncEngine, redis: Redis
) -> None:
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    stream = await client.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    # The viewer stops reading; the driver's positions keep coming, far more than any buffer.
    lat, lon = latlon(150, 0)
    message = json.dumps(
        {"lat": lat, "lon": lon, "heading": 90, "recorded_at": "2026-03-16T14:00:05Z"}
    )
    channel = LIVE_DRIVER_CHANNEL + delivery.driver.id
    for _ in range(40):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(1000):
                pipe.publish(channel, message)
            await pipe.execute()
    read = 0
    with contextlib.suppress(aiohttp.ClientPayloadError, ConnectionResetError):
        while chunk := await stream.content.read(65536):  # until the server ends the stream
            read += len(chunk)
    assert read < 40_000 * len(message)  # most were never sent: the viewer was dropped
    metrics = await (await client.get("/metrics")).text()
    dropped = re.search(r"^lastmile_live_streams_dropped_total (\S+)$", metrics, re.MULTILINE)
    assert dropped is not None and float(dropped[1]) >= 1
    assert (await status(client, delivery.paths[0]))["live"]["driver"] is not None


async def test_static_files_are_versioned_cached_forever_and_compressed(
    client: TestClient[Any, Any],
) -> None:
    version = static_version()
    got = await client.get(f"/static/{version}/live.js", headers={"Accept-Encoding": "gzip"})
    assert got.status == 200
    assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert got.headers["Access-Control-Allow-Origin"] == "*"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.content_type == "text/javascript"
    assert await got.read() == (STATIC_DIR / "live.js").read_bytes()  # aiohttp un-gzips
    png = await client.get(f"/static/{version}/vendor/leaflet/images/marker-icon.png")
    assert png.status == 200 and png.content_type == "image/png"
    assert "Content-Encoding" not in png.headers
    assert (await client.get("/static/000000000000/live.js")).status == 404
    assert (await client.get(f"/static/{version}/nope.js")).status == 404
    assert (await client.get(f"/static/{version}/../vendor-leaflet.sh")).status == 404
