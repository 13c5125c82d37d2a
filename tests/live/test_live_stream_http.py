"""The stream's timing-driven parts on a gateway with short intervals: heartbeats, a position
turning stale with no ping, a link expiring while connected, shutdown; and one Redis pub/sub
connection for all the viewers of a process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.live.hub import LIVE_HUB, LIVE_OPTIONS, StreamOptions
from gateway.platform.appkeys import CLOCK
from gateway.platform.http.edge import SERVER_OPTIONS
from gateway.platform.settings import Settings
from tests.drivers.city import T0
from tests.live.gateway_support import drive, events, own_delivery

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def quick(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """The gateway with a heartbeat every 0.2 s and a link check every 0.3 s."""
    app = create_app(settings)
    app[LIVE_OPTIONS] = StreamOptions(heartbeat_s=0.2, recheck_s=0.3, retry_ms=100)
    server = TestServer(app)
    await server.start_server(**SERVER_OPTIONS)
    client: TestClient[Any, Any] = await aiohttp_client(server)
    yield client


async def test_a_quiet_stream_gets_heartbeats(
    quick: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(quick, engine)
    stream = await quick.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    lines = [(await stream.content.readline()).decode() for _ in range(4)]
    assert ": heartbeat\n" in lines
    stream.close()


async def test_a_shown_position_turns_stale_on_the_open_stream(
    quick: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(quick, engine)
    await drive(quick, delivery, 100, 0)
    stream = await quick.get(f"{delivery.paths[0]}/live")
    [(_, state)] = await events(stream, "state")
    assert state["live"]["driver"]["stale"] is False
    quick.app[CLOCK].freeze(T0 + timedelta(minutes=3))  # no ping since
    got = await events(stream, "position")
    assert got[-1][1]["stale"] is True
    assert got[-1][1]["label"].startswith("Your driver was 0.4 mi away · last seen ")
    stream.close()


async def test_a_link_expiring_while_connected_ends_with_gone(
    quick: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    delivery = await own_delivery(quick, engine)
    stream = await quick.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    quick.app[CLOCK].freeze(T0 + timedelta(days=400))
    [(_, gone)] = await events(stream, "gone")
    assert gone["text"] == "This tracking link is no longer active."
    assert (await stream.content.read()).strip() == b""


async def test_shutdown_ends_open_streams(quick: TestClient[Any, Any], engine: AsyncEngine) -> None:
    delivery = await own_delivery(quick, engine)
    stream = await quick.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    await quick.app.shutdown()  # what the server runs first when it is told to stop
    rest = await stream.content.read()
    assert b"event:" not in rest  # it just ends; the browser reconnects elsewhere


async def test_all_viewers_of_a_process_share_one_pubsub_connection(
    quick: TestClient[Any, Any], engine: AsyncEngine, redis: Redis
) -> None:
    delivery = await own_delivery(quick, engine)
    await drive(quick, delivery, 100, 0)
    before = await _subscribed_connections(redis)  # the hub's, and the carrier cache's
    assert before >= 1
    streams = [await quick.get(f"{path}/live") for path in delivery.paths * 4]
    for stream in streams:
        await events(stream, "state")
    assert await _subscribed_connections(redis) == before
    assert quick.app[LIVE_HUB].viewer_count == 12
    await drive(quick, delivery, 200, 10)
    for stream in streams[0::3]:  # the first stop's viewers: 4 streams, all told
        got = await events(stream, "position")
        assert got[-1][0] == "position"
    for stream in streams:
        stream.close()


async def _subscribed_connections(redis: Redis) -> int:
    clients: list[dict[str, Any]] = await redis.client_list()
    return sum(1 for c in clients if int(c.get("sub", 0)) or int(c.get("psub", 0)))


async def test_open_streams_survive_the_pubsub_connection_dropping(
    quick: TestClient[Any, Any], engine: AsyncEngine, redis: Redis
) -> None:
    delivery = await own_delivery(quick, engine)
    await drive(quick, delivery, 100, 0)
    stream = await quick.get(f"{delivery.paths[0]}/live")
    await events(stream, "state")
    killed = await redis.client_kill_filter(_type="pubsub")
    assert killed >= 1
    for step in range(1, 40):  # the hub reconnects within a second or so; pings go on
        await drive(quick, delivery, 100 + step * 10, step)
        with contextlib.suppress(TimeoutError):
            got = await asyncio.wait_for(events(stream, "position"), 0.5)
            assert got[-1][0] == "position"
            break
    else:
        raise AssertionError("no position after the pub/sub connection came back")
    stream.close()
