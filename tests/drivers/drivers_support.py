"""Helpers for the drivers HTTP tests: drivers, shipments on the synthetic city grid, routes,
ping batches as the driver app sends them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.domain.events import format_utc
from gateway.drivers.rules.pings import Ping
from tests.drivers.city import latlon
from tests.support import Store


@dataclass
class DriverHandle:
    id: str
    token: str
    store: Store

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def add_driver(
    client: TestClient[Any, Any], store: Store, name: str = "Dana Driver"
) -> DriverHandle:
    response = await client.post(
        "/v1/drivers", json={"name": name, "phone": "+15555550188"}, headers=store.headers
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    return DriverHandle(body["id"], body["token"], store)


async def add_shipment(
    client: TestClient[Any, Any],
    store: Store,
    tracking_number: str,
    at_xy: tuple[float, float],
    *,
    promised_by: datetime | None = None,
    **recipient: Any,
) -> str:
    lat, lon = latlon(*at_xy)
    body: dict[str, Any] = {
        "tracking_number": tracking_number,
        "carrier": "driver",
        "recipient": {"name": "Jane Doe", **recipient},
        "destination": {"address": f"{tracking_number} Main St", "lat": lat, "lon": lon},
    }
    if promised_by is not None:
        body["promised_by"] = promised_by.isoformat()
    response = await client.post("/v1/shipments", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    shipment_id: str = (await response.json())["id"]
    return shipment_id


async def add_route(
    client: TestClient[Any, Any],
    store: Store,
    driver: DriverHandle,
    shipment_ids: Sequence[str],
    **extra: Any,
) -> dict[str, Any]:
    body = {"driver_id": driver.id, "stops": [{"shipment_id": s} for s in shipment_ids], **extra}
    response = await client.post("/v1/routes", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    route: dict[str, Any] = await response.json()
    return route


def ping_json(ping: Ping) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lat": ping.lat,
        "lon": ping.lon,
        "recorded_at": format_utc(ping.recorded_at),
    }
    if ping.accuracy_m is not None:
        body["accuracy_m"] = ping.accuracy_m
    return body


async def send_pings(
    client: TestClient[Any, Any], driver: DriverHandle, pings: Sequence[Ping]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/driver/locations",
        json={"pings": [ping_json(p) for p in pings]},
        headers=driver.headers,
    )
    assert response.status == 202, await response.text()
    verdicts: dict[str, Any] = await response.json()
    return verdicts


async def get_route(client: TestClient[Any, Any], store: Store, route_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/routes/{route_id}", headers=store.headers)
    assert response.status == 200, await response.text()
    route: dict[str, Any] = await response.json()
    return route


async def stop_event(
    client: TestClient[Any, Any],
    driver: DriverHandle,
    shipment_id: str,
    event_type: str,
    at: datetime,
    **extra: Any,
) -> Any:
    return await client.post(
        f"/v1/driver/stops/{shipment_id}/events",
        json={"type": event_type, "occurred_at": at.isoformat(), **extra},
        headers=driver.headers,
    )
