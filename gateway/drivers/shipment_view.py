"""What other areas read about a shipment that the store's own drivers deliver.

- `driver_eta`: the open stop's newest ETA (the tracking page, the shipments API).
- `live_stop`: where the shipment is in its driver's day, for live views (issue 12's map and
  stream): the driver to follow (`live.py` channels and keys), the stop's state and ETA, how
  many open stops come before it, and the driver's newest known position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store as driver_store
from gateway.drivers import store_routes
from gateway.drivers.model import RouteStatus, StopState
from gateway.drivers.rules.pings import Ping


async def driver_eta(conn: AsyncConnection, shipment_id: str) -> datetime | None:
    """The ETA of the shipment's open stop, or None (not routed, or no estimate yet)."""
    found = await store_routes.stop_of_shipment(conn, shipment_id)
    if found is None or not found[1].is_open:
        return None
    return found[1].eta


@dataclass(frozen=True, slots=True)
class LiveStop:
    driver_id: str
    route_id: str
    route_state: RouteStatus
    stop_state: StopState
    eta: datetime | None
    stops_before: int  # open stops the driver serves first (0: this one is next)
    lat: float  # the stop (the shipment's destination)
    lon: float
    driver_position: Ping | None  # from the database; Redis holds the same, fresher
    route_path: list[list[float]] | None = None  # the planned path, [[lat, lon], ...]


async def live_stop(conn: AsyncConnection, shipment_id: str) -> LiveStop | None:
    """The shipment's place in its driver's day, or None when no route has it."""
    found = await store_routes.stop_of_shipment(conn, shipment_id)
    if found is None:
        return None
    route, stop = found
    stops = await store_routes.stops_of(conn, [route.id], open_only=True)
    before = next((i for i, s in enumerate(stops) if s.shipment_id == shipment_id), 0)
    position = await driver_store.last_ping(conn, route.driver_id)
    return LiveStop(
        driver_id=route.driver_id,
        route_id=route.id,
        route_state=route.state,
        stop_state=stop.state,
        eta=stop.eta if stop.is_open else None,
        stops_before=before,
        lat=stop.lat,
        lon=stop.lon,
        driver_position=position,
        route_path=route.path,
    )
