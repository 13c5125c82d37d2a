"""Routes API: ordered stops from the store's shipments, states and ETAs read back, bad input
named, another store's ids never found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.city import BLOCK_M, T0, blocks, latlon, path_latlon
from tests.drivers.drivers_support import add_driver, add_route, add_shipment, get_route
from tests.support import make_store


async def test_a_route_lists_its_stops_in_order_with_their_states(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    promise = T0 + timedelta(hours=2)
    first = await add_shipment(client, store, "A1", (2 * BLOCK_M, 0), promised_by=promise)
    second = await add_shipment(client, store, "A2", (4 * BLOCK_M, 0))
    path = path_latlon(blocks(("E", 5)))
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=4)).isoformat()}
    body = {
        "driver_id": driver.id,
        "stops": [
            {"shipment_id": second, "radius_m": 150, "service_s": 60},
            {"shipment_id": first},
        ],
        "path": path,
        "window": window,
    }
    created = await client.post("/v1/routes", json=body, headers=store.headers)
    assert created.status == 201, await created.text()
    route = await created.json()
    assert route["state"] == "planned" and route["driver_id"] == driver.id
    assert [(s["shipment_id"], s["sequence"], s["state"]) for s in route["stops"]] == [
        (second, 0, "planned"),
        (first, 1, "planned"),
    ]
    assert route["stops"][0]["radius_m"] == 150 and route["stops"][1]["radius_m"] == 300
    assert route["stops"][1]["promised_by"] == "2026-03-16T16:00:00Z"
    lat, lon = latlon(4 * BLOCK_M, 0)
    assert route["stops"][0]["destination"] == {"address": "A2 Main St", "lat": lat, "lon": lon}
    assert route["path"] == path and route["window"]["start"] == "2026-03-16T14:00:00Z"
    assert await get_route(client, store, route["id"]) == route

    listed = await client.get(
        "/v1/routes", params={"driver_id": driver.id, "state": "planned"}, headers=store.headers
    )
    assert [r["id"] for r in (await listed.json())["routes"]] == [route["id"]]
    done = await client.get("/v1/routes", params={"state": "done"}, headers=store.headers)
    assert (await done.json())["routes"] == []


async def test_bad_routes_are_refused_naming_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, other = await make_store(engine, "Mine"), await make_store(engine, "Other")
    driver = await add_driver(client, store)
    theirs = await add_driver(client, other)
    mine = await add_shipment(client, store, "M1", (0, 0))
    foreign = await add_shipment(client, other, "F1", (0, 0))
    no_coordinates = await client.post(
        "/v1/shipments",
        json={"tracking_number": "N1", "carrier": "driver", "recipient": {"name": "N"}},
        headers=store.headers,
    )
    bare = (await no_coordinates.json())["id"]

    async def refused(body: dict[str, Any]) -> tuple[int, str]:
        response = await client.post("/v1/routes", json=body, headers=store.headers)
        error = (await response.json())["error"]
        return response.status, error["message"]

    stops = [{"shipment_id": mine}]
    assert await refused({"driver_id": theirs.id, "stops": stops}) == (
        404,
        "driver_id: driver not found",
    )
    assert await refused({"driver_id": driver.id, "stops": [{"shipment_id": foreign}]}) == (
        404,
        "stops[0].shipment_id: shipment not found",
    )
    status, message = await refused(
        {"driver_id": driver.id, "stops": [{"shipment_id": mine}, {"shipment_id": bare}]}
    )
    assert (status, message) == (
        422,
        "stops[1].shipment_id: the shipment has no destination lat and lon",
    )
    status, message = await refused({"driver_id": driver.id, "stops": stops, "path": [[0, 0]]})
    assert status == 422 and message.startswith("path:")
    status, message = await refused(
        {"driver_id": driver.id, "stops": stops, "path": [[91, 0], [0, 1]]}
    )
    assert status == 422 and message.startswith("path:")
    status, message = await refused({"driver_id": driver.id, "stops": stops * 2})
    assert status == 422 and "listed twice" in message
    status, message = await refused(
        {"driver_id": driver.id, "stops": [{"shipment_id": mine, "radius_m": 5}]}
    )
    assert status == 422 and message.startswith("stops.0.radius_m")
    window = {"start": T0.isoformat(), "end": T0.isoformat()}
    status, message = await refused({"driver_id": driver.id, "stops": stops, "window": window})
    assert status == 422 and message.startswith("window")

    await add_route(client, store, driver, [mine])
    status, message = await refused({"driver_id": driver.id, "stops": stops})
    assert status == 409 and message.startswith("stops[0].shipment_id: already a stop of route")


async def test_another_stores_route_is_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, other = await make_store(engine, "Mine"), await make_store(engine, "Other")
    driver = await add_driver(client, store)
    route = await add_route(
        client, store, driver, [await add_shipment(client, store, "M1", (0, 0))]
    )
    assert (await client.get(f"/v1/routes/{route['id']}", headers=other.headers)).status == 404
    listed = await client.get("/v1/routes", headers=other.headers)
    assert (await listed.json())["routes"] == []


async def test_a_destination_must_be_real_coordinates(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    base = {"tracking_number": "Z1", "carrier": "driver", "recipient": {"name": "Z"}}
    for destination, where in (
        ({"address": "x", "lat": 0, "lon": 0}, "destination"),
        ({"address": "x", "lat": 91, "lon": 0}, "destination.lat"),
        ({"address": "x", "lat": 41, "lon": -187}, "destination.lon"),
        ({"address": "", "lat": 41, "lon": -87}, "destination.address"),
    ):
        response = await client.post(
            "/v1/shipments", json={**base, "destination": destination}, headers=store.headers
        )
        assert response.status == 422
        assert (await response.json())["error"]["message"].startswith(where)
