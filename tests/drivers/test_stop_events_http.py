"""Driver stop events go through carrier ingest: timeline, status, store webhooks, notifications;
the stops and the route move with them. And the drivers' cron jobs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.drivers.jobs import check_overdue_stops, purge_driver_positions
from gateway.drivers.tables import driver_positions
from gateway.platform.appkeys import CLOCK
from tests.drivers.city import BLOCK_M, T0, ping_at
from tests.drivers.drivers_support import (
    add_driver,
    add_route,
    add_shipment,
    get_route,
    send_pings,
    stop_event,
)
from tests.drivers.trips import drain, notified, quiet, received, receiver, subscribe
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import count_rows, make_store

__all__ = ["receiver"]  # the fixture


async def test_stop_events_flow_like_carrier_events_and_move_the_route(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, receiver: Receiver
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    await quiet(client, store)
    secret = await subscribe(client, store, receiver, ["shipment.status_changed"])
    driver = await add_driver(client, store)
    first = await add_shipment(client, store, "D1", (BLOCK_M, 0), phone="+15555550123")
    second = await add_shipment(client, store, "D2", (2 * BLOCK_M, 0), phone="+15555550124")
    route = await add_route(client, store, driver, [first, second])

    steps = [
        (first, "picked_up", 0),
        (second, "picked_up", 1),
        (first, "out_for_delivery", 2),
        (first, "arrived", 10),
        (first, "delivered", 12),
        (second, "failed_attempt", 20),
    ]
    states = []
    for shipment_id, kind, minute in steps:
        at = T0 + timedelta(minutes=minute)
        client.app[CLOCK].freeze(at + timedelta(seconds=5))
        response = await stop_event(
            client,
            driver,
            shipment_id,
            kind,
            at,
            note="Gate locked" if kind == "failed_attempt" else None,
        )
        assert response.status == 201, await response.text()
        states.append([s["state"] for s in (await get_route(client, store, route["id"]))["stops"]])
    again = await stop_event(client, driver, first, "delivered", T0 + timedelta(minutes=12))
    assert again.status == 200 and (await again.json())["accepted"] is False
    await drain(engine, worker)

    assert states == [
        ["active", "planned"],  # the first event starts the route
        ["active", "planned"],
        ["active", "planned"],
        ["arrived", "planned"],
        ["done", "active"],
        ["done", "failed"],
    ]
    final = await get_route(client, store, route["id"])
    assert final["state"] == "done" and final["finished_at"] is not None
    shipment = await (await client.get(f"/v1/shipments/{first}", headers=store.headers)).json()
    assert shipment["status"] == "delivered"
    assert [(e["carrier"], e["status"], e["carrier_status_code"]) for e in shipment["events"]] == [
        ("driver", "in_transit", "picked_up"),
        ("driver", "out_for_delivery", "out_for_delivery"),
        ("driver", "out_for_delivery", "arrived"),
        ("driver", "delivered", "delivered"),
    ]
    changed = received(receiver, secret, "shipment.status_changed")
    assert sorted((d["shipment_id"], d["status"]) for d in changed) == sorted(
        [
            (first, "in_transit"),
            (second, "in_transit"),
            (first, "out_for_delivery"),
            (first, "delivered"),
            (second, "failed_attempt"),
        ]
    )
    assert [e for e, _ in await notified(engine, first)] == ["out_for_delivery", "delivered"]
    failed = await (await client.get(f"/v1/shipments/{second}", headers=store.headers)).json()
    assert failed["events"][-1]["description"] == "Delivery attempted: Gate locked"
    alerts = (await (await client.get("/v1/alerts", headers=store.headers)).json())["alerts"]
    assert [(a["kind"], a["shipment_id"], a["data"]["note"]) for a in alerts] == [
        ("failed_attempt", second, "Gate locked")
    ]


async def test_a_promise_passing_without_pings_is_reported_late_by_the_cron_job(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    worker: Worker,
    receiver: Receiver,
    settings: Any,
    arq_redis: Any,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # the job reads the real clock
    client.app[CLOCK].freeze(now - timedelta(minutes=30))
    store = await make_store(engine)
    secret = await subscribe(client, store, receiver, ["shipment.late"])
    driver = await add_driver(client, store)
    promise = now - timedelta(minutes=5)
    late = await add_shipment(client, store, "O1", (BLOCK_M, 0), promised_by=promise)
    fine = await add_shipment(
        client, store, "O2", (2 * BLOCK_M, 0), promised_by=now + timedelta(hours=1)
    )
    await add_route(client, store, driver, [late, fine])
    shift = now - T0 - timedelta(minutes=30)  # ping_at's times, half an hour ago
    pings = [
        replace(p, recorded_at=p.recorded_at + shift) for p in (ping_at(0, 0, 0), ping_at(40, 0, 5))
    ]
    verdicts = await send_pings(client, driver, pings)  # then silence
    assert verdicts["accepted"] == 2 and verdicts["route_id"] is not None

    ctx = {"db": engine, "redis": arq_redis, "settings": settings}
    assert await check_overdue_stops(ctx) == 1  # type: ignore[arg-type]
    assert await check_overdue_stops(ctx) == 0  # type: ignore[arg-type]
    await drain(engine, worker)

    [data] = received(receiver, secret, "shipment.late")
    assert (data["shipment_id"], data["reason"]) == (late, "promise_passed")


async def test_positions_older_than_the_retention_are_purged(
    client: TestClient[Any, Any], engine: AsyncEngine, settings: Any
) -> None:
    now = datetime.now(UTC)
    client.app[CLOCK].freeze(now)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    start = now - T0  # ping_at's times shifted to today
    pings = [ping_at(0, 0, -20), ping_at(30, 0, -15), ping_at(60, 0, -10)]
    pings = [replace(p, recorded_at=p.recorded_at + start) for p in pings]
    await send_pings(client, driver, pings[:2])
    async with engine.begin() as conn:  # two of them recorded 31 days ago
        old = now - timedelta(days=31)
        await conn.execute(
            driver_positions.update()
            .where(driver_positions.c.id.in_(sa.select(driver_positions.c.id).limit(2)))
            .values(recorded_at_ms=round(old.timestamp() * 1000))
        )
    await send_pings(client, driver, pings[2:])

    assert await purge_driver_positions({"db": engine, "settings": settings}) == 2  # type: ignore[arg-type]
    assert await count_rows(engine, driver_positions) == 1
