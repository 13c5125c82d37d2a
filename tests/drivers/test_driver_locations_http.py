"""`POST /v1/driver/locations`: a verdict per ping, history in the database by `recorded_at`, the
newest position in Redis and on the live channels, refused pings never sinking a batch."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.drivers import live, store_positions
from gateway.drivers.store_positions import Position
from gateway.platform.appkeys import CLOCK
from gateway.platform.embedded_redis import find_free_port
from gateway.platform.names import (
    DRIVER_POSITION_KEY,
    LIVE_DRIVER_CHANNEL,
    LIVE_FLEET_CHANNEL,
)
from gateway.platform.settings import Settings
from tests.drivers.city import T0, Drive, blocks, path_latlon, ping_at
from tests.drivers.drivers_support import (
    add_driver,
    add_route,
    add_shipment,
    ping_json,
    send_pings,
)
from tests.support import make_store

NOW = T0 + timedelta(minutes=10)


async def _history(engine: AsyncEngine, driver_id: str) -> list[Position]:
    async with engine.connect() as conn:
        return await store_positions.history(
            conn,
            driver_id,
            datetime(2000, 1, 1, tzinfo=UTC),
            datetime(2100, 1, 1, tzinfo=UTC),
            10_000,
        )


async def test_each_ping_gets_a_verdict_and_refused_ones_never_sink_the_batch(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    pings = Drive((0, 0)).to((2000, 0), speed_mps=10).pings(seed=1)[:20]
    pings[3] = replace(pings[3], lat=0.0, lon=0.0)
    pings[5] = replace(pings[5], lat=95.0)
    pings[7] = replace(pings[7], recorded_at=NOW + timedelta(hours=1))
    pings[9] = replace(pings[9], lat=pings[9].lat + 0.05)  # 5 km in 5 s
    pings[11] = replace(pings[11], accuracy_m=400.0)  # kept for the map, not trusted
    pings.append(pings[12])  # the app resent one

    verdicts = await send_pings(client, driver, pings)

    reasons = {i: v.get("reason") for i, v in enumerate(verdicts["pings"])}
    assert {i: r for i, r in reasons.items() if r} == {
        3: "zero_coordinates",
        5: "bad_coordinates",
        7: "future_time",
        9: "implausible_speed",
        20: "duplicate",
    }
    assert verdicts["accepted"] == 16 and verdicts["refused"] == 5 and verdicts["route_id"] is None
    assert verdicts["pings"][11] == {"status": "accepted", "trusted": False}
    history = await _history(engine, driver.id)
    assert len(history) == 16
    assert [row.trusted for row in history].count(False) == 1


async def test_late_pings_are_placed_by_recorded_at_and_never_move_the_position_back(
    client: TestClient[Any, Any], engine: AsyncEngine, redis: Redis
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    pings = Drive((0, 0)).to((3000, 0), speed_mps=10).pings(seed=2)[:40]
    newer, older = pings[20:], pings[:20]

    await send_pings(client, driver, list(reversed(newer)))  # out of order within the batch
    await send_pings(client, driver, older)  # a batch that was stuck on the phone

    history = await _history(engine, driver.id)
    assert [row.recorded_at for row in history] == [p.recorded_at for p in pings]
    stored = await redis.hget(DRIVER_POSITION_KEY + driver.id, "json")  # type: ignore[misc]
    position = json.loads(stored)
    assert position["recorded_at"] == newer[-1].recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (position["lat"], position["lon"]) == (newer[-1].lat, newer[-1].lon)
    fleet = await live.fleet_positions(redis, store.tenant_id)
    assert fleet == {driver.id: position}
    got = await client.get(f"/v1/drivers/{driver.id}", headers=store.headers)
    assert (await got.json())["position"]["lat"] == newer[-1].lat


async def test_every_accepted_batch_publishes_the_newest_position(
    client: TestClient[Any, Any], engine: AsyncEngine, redis: Redis
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    pubsub = redis.pubsub()
    await pubsub.subscribe(LIVE_DRIVER_CHANNEL + driver.id, LIVE_FLEET_CHANNEL + store.tenant_id)
    await pubsub.get_message(timeout=1)
    await pubsub.get_message(timeout=1)

    await send_pings(client, driver, [ping_at(0, 0, 0), ping_at(50, 0, 5)])
    messages = [await pubsub.get_message(timeout=2) for _ in range(2)]
    channels = {m["channel"].decode() for m in messages if m}
    assert channels == {LIVE_DRIVER_CHANNEL + driver.id, LIVE_FLEET_CHANNEL + store.tenant_id}
    body = json.loads(messages[0]["data"]) if messages[0] else {}
    assert body["type"] == "position" and body["driver_id"] == driver.id
    assert body["recorded_at"] == "2026-03-16T14:00:05Z" and body["trusted"] is True

    await send_pings(client, driver, [ping_at(-50, 0, -5)])  # only older: nothing to announce
    assert await pubsub.get_message(timeout=0.3) is None
    await pubsub.aclose()


async def test_bad_batches_are_refused_whole_naming_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    too_many = [ping_json(ping_at(i, 0, i)) for i in range(501)]
    naive = {"lat": 41.0, "lon": -87.0, "recorded_at": "2026-03-16T14:00:00"}
    for body, where in (
        ({"pings": too_many}, "pings"),
        ({"pings": []}, "pings"),
        ({"pings": [naive]}, "pings.0.recorded_at"),
        ({"pings": [{"lat": "north", "lon": 1, "recorded_at": NOW.isoformat()}]}, "pings.0.lat"),
    ):
        response = await client.post("/v1/driver/locations", json=body, headers=driver.headers)
        assert response.status == 422
        assert (await response.json())["error"]["message"].startswith(where)
    assert await _history(engine, driver.id) == []


async def test_a_dead_redis_costs_the_live_view_not_the_batch(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> None:
    nowhere = f"redis://127.0.0.1:{find_free_port()}/0"
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, redis_url=nowhere))
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    verdicts = await asyncio.wait_for(send_pings(client, driver, [ping_at(0, 0, 0)]), 10)
    assert verdicts["accepted"] == 1
    assert len(await _history(engine, driver.id)) == 1


async def test_two_batches_of_one_driver_at_once_are_taken_one_after_the_other(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    corners = blocks(("E", 10))
    stop = await add_shipment(client, store, "C1", corners[-1])
    await add_route(client, store, driver, [stop], path=path_latlon(corners))
    detour = Drive((0, 400)).to((1500, 400), speed_mps=10).pings(seed=8)  # 150 s, 400 m off

    first, second = await asyncio.gather(
        send_pings(client, driver, detour), send_pings(client, driver, detour)
    )

    assert sorted([first["accepted"], second["accepted"]]) == [0, len(detour)]
    assert len(await _history(engine, driver.id)) == len(detour)
    alerts = (await (await client.get("/v1/alerts", headers=store.headers)).json())["alerts"]
    assert [a["kind"] for a in alerts] == ["off_route"]


async def test_a_resent_batch_is_refused_as_duplicates_and_fires_nothing_again(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    corners = blocks(("E", 20))
    stop = await add_shipment(client, store, "R1", corners[-1])
    await add_route(client, store, driver, [stop], path=path_latlon(corners))
    detour = Drive((0, 400)).to((1500, 400), speed_mps=10).pings(seed=9)  # off route
    back = Drive((1500, 0), t0=detour[-1].recorded_at + timedelta(seconds=5))
    back_pings = back.to((2500, 0), speed_mps=10).pings(seed=10)  # back on the avenue

    first = await send_pings(client, driver, detour)
    second = await send_pings(client, driver, back_pings)
    resent = await send_pings(client, driver, detour)  # the app never got the first answer

    assert resent["accepted"] == 0
    assert {v["reason"] for v in resent["pings"]} == {"duplicate"}
    alerts = (await (await client.get("/v1/alerts", headers=store.headers)).json())["alerts"]
    assert [a["kind"] for a in alerts] == ["back_on_route", "off_route"]
    stored = await _history(engine, driver.id)
    assert len(stored) == first["accepted"] + second["accepted"]
