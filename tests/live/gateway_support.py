"""Helpers for the live tests against the REAL gateway: a store's own delivery under way, its
tracking link, and an SSE reader."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.city import T0, blocks, path_latlon, ping_at
from tests.drivers.drivers_support import (
    DriverHandle,
    add_driver,
    add_route,
    add_shipment,
    send_pings,
)
from tests.support import Store, make_store

# Three stops east then north of the grid's origin: (804, 0), (804, 603), (1407, 603).
CORNERS = blocks(("E", 4), ("N", 3), ("E", 3))
STOPS = CORNERS[1:]


@dataclass
class Delivery:
    store: Store
    driver: DriverHandle
    shipments: list[str]  # in route order
    paths: list[str]  # each shipment's tracking page path, /t/{token}

    def headers(self) -> dict[str, str]:
        return self.store.headers


async def link_path(client: TestClient[Any, Any], store: Store, shipment_id: str) -> str:
    response = await client.get(f"/v1/shipments/{shipment_id}", headers=store.headers)
    assert response.status == 200, await response.text()
    url: str = (await response.json())["tracking_url"]
    return url.removeprefix("http://gateway.test")


async def own_delivery(
    client: TestClient[Any, Any], engine: AsyncEngine, *, store_name: str = "Corner Books"
) -> Delivery:
    """A store's driver with a route of three stops along a planned path; the clock at T0."""
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine, store_name)
    driver = await add_driver(client, store, "Dana Driver")
    promise = T0 + timedelta(hours=2)
    shipments = [
        await add_shipment(
            client, store, f"LM{n}", xy, promised_by=promise, timezone="America/Chicago"
        )
        for n, xy in enumerate(STOPS, start=1)
    ]
    await add_route(client, store, driver, shipments, path=path_latlon(CORNERS))
    paths = [await link_path(client, store, s) for s in shipments]
    return Delivery(store, driver, shipments, paths)


async def drive(client: TestClient[Any, Any], delivery: Delivery, x_m: float, t_s: float) -> None:
    """The driver reports a position x metres east of the origin, t seconds after T0."""
    client.app[CLOCK].freeze(T0 + timedelta(seconds=t_s + 1))
    await send_pings(client, delivery.driver, [ping_at(x_m, 0, t_s)])


async def status(client: TestClient[Any, Any], path: str) -> dict[str, Any]:
    response = await client.get(f"{path}/status")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def events(response: ClientResponse, wanted: str, limit: int = 200) -> list[tuple[str, Any]]:
    """SSE events up to and including the first `wanted` one (comments are skipped)."""
    found: list[tuple[str, Any]] = []
    name = ""
    while len(found) < limit:
        line = (await response.content.readline()).decode()
        assert line, f"the stream ended after {found}"
        if line.startswith("event: "):
            name = line[7:].strip()
        elif line.startswith("data: "):
            found.append((name, json.loads(line[6:])))
            if name == wanted:
                return found
    raise AssertionError(f"no {wanted} event in {found}")
