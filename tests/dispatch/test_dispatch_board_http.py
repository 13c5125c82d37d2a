"""What the console shows and streams: one store's drivers, stops, alerts and figures, never
another store's; a past day without a stream; a stream that ends with the session."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.dispatch.dispatch_support import Console, log_in
from tests.drivers.city import T0, blocks, ping_at
from tests.drivers.drivers_support import (
    DriverHandle,
    add_driver,
    add_route,
    add_shipment,
    send_pings,
    stop_event,
)
from tests.support import Store, make_store

STOPS = blocks(("E", 4), ("N", 3), ("E", 3))[1:]  # (804, 0), (804, 603), (1407, 603)


async def _fleet(
    client: TestClient[Any, Any], store: Store, driver_name: str, prefix: str
) -> tuple[DriverHandle, list[str]]:
    """A driver on a route of three stops, promised 30 minutes after T0."""
    driver = await add_driver(client, store, driver_name)
    promise = T0 + timedelta(minutes=30)
    shipments = [
        await add_shipment(client, store, f"{prefix}{n}", xy, promised_by=promise)
        for n, xy in enumerate(STOPS, start=1)
    ]
    await add_route(client, store, driver, shipments)
    return driver, shipments


async def _board(client: TestClient[Any, Any], console: Console, query: str = "") -> Any:
    response = await client.get(f"/dispatch/board{query}", headers=console.headers())
    assert response.status == 200
    return await response.json()


async def _rate(client: TestClient[Any, Any], store: Store, shipment_id: str, score: int) -> None:
    shipment = await (
        await client.get(f"/v1/shipments/{shipment_id}", headers=store.headers)
    ).json()
    path = shipment["tracking_url"].removeprefix("http://gateway.test")
    response = await client.post(f"{path}/rating", json={"score": score, "comment": "ok"})
    assert response.status == 201, await response.text()


async def test_a_store_sees_its_day_and_never_another_stores(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0)
    acme, bravo = await make_store(engine, "Acme"), await make_store(engine, "Bravo")
    ana, (s1, s2, s3) = await _fleet(client, acme, "Ana Acme", "A")
    bob, _ = await _fleet(client, bravo, "Bob Bravo", "B")
    await send_pings(client, ana, [ping_at(0, 0, -20), ping_at(60, 0, -10)])
    await send_pings(client, bob, [ping_at(0, 5, -20), ping_at(60, 5, -10)])
    assert (await stop_event(client, ana, s1, "delivered", T0 + timedelta(minutes=10))).ok
    assert (await stop_event(client, ana, s2, "delivered", T0 + timedelta(minutes=40))).ok
    failed = await stop_event(client, ana, s3, "failed_attempt", T0 + timedelta(minutes=50),
                              note="Nobody home")  # fmt: skip
    assert failed.ok
    client.app[CLOCK].freeze(T0 + timedelta(minutes=55))
    await _rate(client, acme, s1, 5)
    await _rate(client, acme, s2, 1)

    console = await log_in(client, acme, timezone="America/Chicago")
    board = await _board(client, console)

    assert board["store"] == "Acme" and board["timezone"] == "America/Chicago"
    assert board["day"] == "2026-03-16" and board["is_today"]
    [driver] = board["drivers"]
    assert driver["name"] == "Ana Acme" and driver["state"] == "finished"
    assert [s["state"] for s in driver["route"]["stops"]] == ["done", "done", "failed"]
    assert [s["late"] for s in driver["route"]["stops"]] == [False, True, False]
    assert driver["position"]["lat"] == ping_at(60, 0, -10).lat
    figures = board["figures"]
    assert (figures["deliveries"], figures["failed"]) == (2, 1)
    assert (figures["on_time"], figures["measured"], figures["on_time_rate"]) == (1, 2, 0.5)
    assert figures["per_hour"][9] == 2 and sum(figures["per_hour"]) == 2  # 09:xx in Chicago
    assert figures["ratings"] == [
        {"driver_id": ana.id, "name": "Ana Acme", "average": 3.0, "count": 2}
    ]
    kinds = {a["kind"]: a for a in board["alerts"]}
    assert set(kinds) == {"failed_attempt", "low_rating"}
    assert kinds["failed_attempt"]["title"] == "Failed attempt: A3 Main St"
    assert kinds["failed_attempt"]["detail"] == "Ana Acme · Nobody home"
    assert kinds["low_rating"]["title"] == "1★ rating for Ana Acme"

    page = await (await client.get("/dispatch", headers=console.headers())).text()
    assert "Ana Acme" in page and "50%" in page and "Failed attempt: A3 Main St" in page
    assert "Bob Bravo" not in page and bob.id not in page and "B1" not in page
    assert "Bob Bravo" not in json.dumps(board) and bob.id not in json.dumps(board)


async def test_a_drivers_trail_is_their_trusted_trace_and_only_for_their_store(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0 + timedelta(minutes=2))
    acme, bravo = await make_store(engine, "Acme"), await make_store(engine, "Bravo")
    ana, _ = await _fleet(client, acme, "Ana Acme", "A")
    bob, _ = await _fleet(client, bravo, "Bob Bravo", "B")
    trace = [ping_at(10 * n, 0, 5 * n) for n in range(6)]
    poor = ping_at(35, 40, 27, accuracy_m=120)  # kept for the map, not trusted
    await send_pings(client, ana, [*trace, poor])
    await send_pings(client, bob, [ping_at(0, 5, 0), ping_at(30, 5, 5)])
    console = await log_in(client, acme)

    own = await client.get(f"/dispatch/drivers/{ana.id}/trail", headers=console.headers())
    assert own.status == 200
    assert (await own.json())["points"] == [[p.lat, p.lon] for p in trace]
    other = await client.get(f"/dispatch/drivers/{bob.id}/trail", headers=console.headers())
    assert other.status == 404  # another store's driver does not exist here
    anonymous = await client.get(f"/dispatch/drivers/{ana.id}/trail")
    assert anonymous.status == 401


async def test_a_past_day_is_a_still_picture_and_the_future_is_today(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    await _fleet(client, store, "Ana Acme", "A")
    console = await log_in(client, store, timezone="UTC")
    past = await client.get("/dispatch?day=2026-03-15", headers=console.headers())
    html = await past.text()
    assert 'data-live-url=""' in html and 'value="2026-03-15"' in html
    assert (await _board(client, console, "?day=2026-03-15"))["is_today"] is False
    assert (await _board(client, console, "?day=2030-01-01"))["day"] == "2026-03-16"
    assert (await _board(client, console, "?day=garbage"))["day"] == "2026-03-16"


async def _events(response: ClientResponse, wanted: str, limit: int = 50) -> list[tuple[str, Any]]:
    """SSE events up to and including the first `wanted` one."""
    events: list[tuple[str, Any]] = []
    name = ""
    while len(events) < limit:
        line = (await response.content.readline()).decode()
        assert line, "the stream ended"
        if line.startswith("event: "):
            name = line[7:].strip()
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
            if name == wanted:
                return events
    raise AssertionError(f"no {wanted} event in {events}")


async def test_the_stream_brings_own_positions_only_and_ends_with_the_session(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0)
    acme, bravo = await make_store(engine, "Acme"), await make_store(engine, "Bravo")
    ana, _ = await _fleet(client, acme, "Ana Acme", "A")
    bob, _ = await _fleet(client, bravo, "Bob Bravo", "B")
    console = await log_in(client, acme)
    stream = await client.get("/dispatch/live", headers=console.headers(), timeout=30)
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    assert stream.headers["Cache-Control"] == "no-store"
    [(_, board)] = await _events(stream, "board")
    assert [d["name"] for d in board["drivers"]] == ["Ana Acme"]

    await send_pings(client, bob, [ping_at(0, 5, -20), ping_at(60, 5, -10)])
    await send_pings(client, ana, [ping_at(0, 0, -20), ping_at(80, 0, -10)])
    got = await _events(stream, "position")
    positions = [data for name, data in got if name == "position"]
    assert positions[-1]["driver_id"] == ana.id
    assert positions[-1]["lat"] == ping_at(80, 0, -10).lat
    assert bob.id not in json.dumps(got)

    logout = await client.post(
        "/dispatch/logout",
        data={"csrf": console.csrf},
        headers=console.form_headers(),
        allow_redirects=False,
    )
    assert logout.status == 303
    await send_pings(client, ana, [ping_at(120, 0, 0)])
    gone = await _events(stream, "gone")
    assert gone[-1] == ("gone", {"login": "/dispatch/login"})
    assert (await stream.content.read()).strip() == b""  # and the server closed it
