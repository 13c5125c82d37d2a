"""Through the HTTP API: jitter fires nothing, ETAs converge, a slipping stop is late again only
after another 15 minutes."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.city import BLOCK_M, T0, Drive, blocks, path_latlon, ping_at
from tests.drivers.drivers_support import add_driver, add_route, add_shipment, get_route
from tests.drivers.trips import Trip, drain, notified, quiet, received, receiver, subscribe
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import make_store

__all__ = ["receiver"]  # the fixture


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_jitter_at_a_geofence_edge_and_along_the_path_fires_nothing_twice(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, receiver: Receiver
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    secret = await subscribe(client, store, receiver)
    driver = await add_driver(client, store)
    corners = blocks(("E", 8))
    stop = await add_shipment(client, store, "J1", (4 * BLOCK_M + 300, 0))
    route = await add_route(client, store, driver, [stop], path=path_latlon(corners))
    rng = np.random.default_rng(7)
    # Ten minutes parked right on the stop's 300 m edge, GPS wandering ±15 m and 25 m off the
    # street; then one wild fix 320 m north, kept (accuracy allows it) but alone.
    pings = [
        ping_at(4 * BLOCK_M + float(rng.normal(0, 15)), float(rng.normal(25, 10)), 60 + i * 5)
        for i in range(120)
    ]
    pings[60] = ping_at(4 * BLOCK_M, 320, 60 + 60 * 5, accuracy_m=60)

    trip = Trip(client, driver)
    await trip.drive(pings, size=7)
    await drain(engine, worker)

    assert len(received(receiver, secret, "driver.arriving")) == 1
    assert received(receiver, secret, "driver.off_route") == []
    assert (await get_route(client, store, route["id"]))["off_route"] is False
    alerts = await client.get("/v1/alerts", headers=store.headers)
    assert (await alerts.json())["alerts"] == []


async def test_etas_converge_as_the_driver_approaches(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    corners = blocks(("E", 6), ("N", 6), ("E", 6))
    last = await add_shipment(client, store, "E1", corners[-1])
    route = await add_route(client, store, driver, [last], path=path_latlon(corners))
    drive = Drive(corners[0])
    for corner, speed in zip(corners[1:], (11.0, 7.0, 9.0), strict=True):
        drive.to(corner, speed_mps=speed).wait(30)  # traffic changes; a light at each turn
    arrival = T0 + timedelta(seconds=drive.now_s - 30)
    pings = drive.pings(seed=21)

    trip = Trip(client, driver)
    errors_s = []
    for start in range(0, len(pings) - 12, 12):
        await trip.send(pings[start : start + 12])
        [stop] = (await get_route(client, store, route["id"]))["stops"]
        errors_s.append(abs((_parse(stop["eta"]) - arrival).total_seconds()))

    assert len(errors_s) >= 5
    assert errors_s[-1] < 45 and errors_s[-2] < 60
    assert max(errors_s[-3:]) < max(errors_s[:3]) / 2


async def test_a_stop_slipping_is_late_before_the_promise_and_again_only_15_minutes_on(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, receiver: Receiver
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    await quiet(client, store)
    secret = await subscribe(client, store, receiver)
    driver = await add_driver(client, store)
    promise = T0 + timedelta(minutes=8)
    stop = await add_shipment(
        client, store, "L1", (12 * BLOCK_M, 0), promised_by=promise, phone="+15555550123"
    )
    await add_route(client, store, driver, [stop], path=path_latlon(blocks(("E", 12))))
    # A minute of driving at 9 m/s (ETA ~4.5 min: on time), then stuck in traffic for 40 min: the
    # ETA slips a minute a minute.
    drive = Drive((0, 0)).to((540, 0), speed_mps=9).wait(2400)
    pings = drive.pings(seed=3, noise_m=4)

    trip = Trip(client, driver)
    await trip.drive(pings, size=12)
    await drain(engine, worker)

    late = sorted(received(receiver, secret, "shipment.late"), key=lambda d: d["eta"])
    reasons = [d["reason"] for d in late]
    assert reasons.count("promise_passed") == 1 and reasons[0] == "eta_after_promise"
    assert _parse(late[0]["eta"]) > promise
    slips = [d for d in late if d["reason"] == "eta_after_promise"]
    assert len(slips) >= 2
    for before, after in itertools.pairwise(late):
        if after["reason"] == "eta_after_promise":
            # again only after another 15 minutes beyond the last reported, and promptly then
            gap = _parse(after["eta"]) - _parse(before["eta"])
            assert timedelta(minutes=15) <= gap <= timedelta(minutes=17)  # whole seconds
    alerts = (await (await client.get("/v1/alerts", headers=store.headers)).json())["alerts"]
    first = min(_parse(a["occurred_at"]) for a in alerts if a["kind"] == "late")
    assert first < promise  # the warning came before the promised time passed
    # The customer hears of each slip; the promise passing is no news to someone already told.
    assert [e for e, _ in await notified(engine, stop)].count("late") == len(slips)
