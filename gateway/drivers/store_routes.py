"""Routes and their stops: create, read, list, and the state changes the driver's day makes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.model import (
    OPEN_ROUTE_STATES,
    OPEN_STOP_STATES,
    Route,
    RouteStatus,
    RouteWithStops,
    Stop,
    StopState,
)
from gateway.drivers.tables import route_stops, routes
from gateway.platform.ids import new_id
from gateway.shipments.tables import shipments

R = routes.c
S = route_stops.c
_OPEN_ROUTES = [s.value for s in OPEN_ROUTE_STATES]
_OPEN_STOPS = [s.value for s in OPEN_STOP_STATES]


@dataclass(frozen=True, slots=True)
class ShipmentForStop:
    id: str
    status: str
    destination: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class NewStop:
    shipment_id: str
    lat: float
    lon: float
    radius_m: float
    service_s: float


@dataclass(frozen=True, slots=True)
class NewRoute:
    tenant_id: str
    driver_id: str
    stops: Sequence[NewStop]
    path: list[list[float]] | None
    window_start: datetime | None
    window_end: datetime | None
    notify_stops_away: int | None


def _route(row: Any) -> Route:
    return Route(
        id=row.id,
        tenant_id=row.tenant_id,
        driver_id=row.driver_id,
        state=RouteStatus(row.state),
        window_start=row.window_start,
        window_end=row.window_end,
        path=row.path,
        notify_stops_away=row.notify_stops_away,
        rule_state=row.rule_state or {},
        off_route=bool(row.off_route),
        off_route_episodes=row.off_route_episodes,
        started_at=row.started_at,
        finished_at=row.finished_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _stop(row: Any) -> Stop:
    destination = row.s_destination or {}
    return Stop(
        route_id=row.route_id,
        shipment_id=row.shipment_id,
        sequence=row.sequence,
        state=StopState(row.state),
        lat=row.lat,
        lon=row.lon,
        radius_m=row.radius_m,
        service_s=row.service_s,
        eta=row.eta,
        eta_reported=row.eta_reported,
        eta_reports=row.eta_reports,
        late_reports=row.late_reports,
        arrived_at=row.arrived_at,
        delivered_at=row.delivered_at,
        done_at=row.done_at,
        promised_by=row.s_promised_by,
        tracking_number=row.s_tracking_number,
        carrier=row.s_carrier,
        address=destination.get("address"),
    )


_STOP_QUERY = sa.select(
    route_stops,
    shipments.c.promised_by.label("s_promised_by"),
    shipments.c.tracking_number.label("s_tracking_number"),
    shipments.c.carrier.label("s_carrier"),
    shipments.c.destination.label("s_destination"),
).join(shipments, shipments.c.id == S.shipment_id)


async def shipments_for_stops(
    conn: AsyncConnection, tenant_id: str, shipment_ids: Sequence[str]
) -> dict[str, ShipmentForStop]:
    """The store's shipments among `shipment_ids` (another store's are simply absent)."""
    query = sa.select(shipments.c.id, shipments.c.status, shipments.c.destination).where(
        shipments.c.tenant_id == tenant_id, shipments.c.id.in_(list(shipment_ids))
    )
    rows = (await conn.execute(query)).all()
    return {row.id: ShipmentForStop(row.id, row.status, row.destination) for row in rows}


async def open_routes_of(conn: AsyncConnection, shipment_ids: Sequence[str]) -> dict[str, str]:
    """{shipment id: route id} for shipments that are an open stop of an open route."""
    query = (
        sa.select(S.shipment_id, S.route_id)
        .join(routes, R.id == S.route_id)
        .where(
            S.shipment_id.in_(list(shipment_ids)),
            S.state.in_(_OPEN_STOPS),
            R.state.in_(_OPEN_ROUTES),
        )
    )
    return {row.shipment_id: row.route_id for row in (await conn.execute(query)).all()}


async def insert(
    conn: AsyncConnection, new: NewRoute, rule_state: dict[str, Any], now: datetime
) -> str:
    route_id = new_id("rte")
    await conn.execute(
        routes.insert().values(
            id=route_id,
            tenant_id=new.tenant_id,
            driver_id=new.driver_id,
            state=RouteStatus.PLANNED.value,
            window_start=new.window_start,
            window_end=new.window_end,
            path=new.path,
            notify_stops_away=new.notify_stops_away,
            rule_state=rule_state,
            off_route=False,
            off_route_episodes=0,
            created_at=now,
            updated_at=now,
        )
    )
    await conn.execute(
        route_stops.insert(),
        [
            {
                "route_id": route_id,
                "shipment_id": stop.shipment_id,
                "sequence": sequence,
                "state": StopState.PLANNED.value,
                "lat": stop.lat,
                "lon": stop.lon,
                "radius_m": stop.radius_m,
                "service_s": stop.service_s,
                "eta_reports": 0,
                "late_reports": 0,
            }
            for sequence, stop in enumerate(new.stops)
        ],
    )
    return route_id


async def get(
    conn: AsyncConnection, route_id: str, tenant_id: str | None = None
) -> RouteWithStops | None:
    """The route with its stops in order; with `tenant_id`, only that store's."""
    query = sa.select(routes).where(R.id == route_id)
    if tenant_id is not None:
        query = query.where(R.tenant_id == tenant_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return RouteWithStops(_route(row), await stops_of(conn, [route_id]))


async def stops_of(
    conn: AsyncConnection, route_ids: Sequence[str], *, open_only: bool = False
) -> list[Stop]:
    """The routes' stops in route order (`open_only`: those not yet done or failed)."""
    query = _STOP_QUERY.where(S.route_id.in_(list(route_ids))).order_by(S.route_id, S.sequence)
    if open_only:
        query = query.where(S.state.in_(_OPEN_STOPS))
    return [_stop(row) for row in (await conn.execute(query)).all()]


async def list_for_tenant(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    driver_id: str | None,
    states: Sequence[RouteStatus],
    before: str | None,
    limit: int,
) -> list[RouteWithStops]:
    """Newest first; `before` is the last id of the previous page."""
    query = sa.select(routes).where(R.tenant_id == tenant_id)
    if driver_id is not None:
        query = query.where(R.driver_id == driver_id)
    if states:
        query = query.where(R.state.in_([s.value for s in states]))
    if before is not None:
        query = query.where(R.id < before)
    found = [
        _route(r) for r in (await conn.execute(query.order_by(R.id.desc()).limit(limit))).all()
    ]
    stops = await stops_of(conn, [r.id for r in found])
    return [RouteWithStops(r, [s for s in stops if s.route_id == r.id]) for r in found]


async def open_routes_of_driver(conn: AsyncConnection, driver_id: str) -> list[Route]:
    query = sa.select(routes).where(R.driver_id == driver_id, R.state.in_(_OPEN_ROUTES))
    return [_route(r) for r in (await conn.execute(query.order_by(R.created_at))).all()]


async def update_route(conn: AsyncConnection, route_id: str, now: datetime, **values: Any) -> None:
    await conn.execute(routes.update().where(R.id == route_id).values(**values, updated_at=now))


async def update_stop(
    conn: AsyncConnection, route_id: str, shipment_id: str, **values: Any
) -> None:
    await conn.execute(
        route_stops.update()
        .where(S.route_id == route_id, S.shipment_id == shipment_id)
        .values(**values)
    )


async def set_etas(
    conn: AsyncConnection, route_id: str, etas: Sequence[tuple[str, datetime]]
) -> None:
    """Store the newest ETA of each (shipment id, eta), in one statement."""
    if not etas:
        return
    statement = (
        route_stops.update()
        .where(S.route_id == route_id, S.shipment_id == sa.bindparam("b_shipment"))
        .values(eta=sa.bindparam("b_eta"))
    )
    await conn.execute(statement, [{"b_shipment": s, "b_eta": eta} for s, eta in etas])


async def record_eta_reports(
    conn: AsyncConnection, route_id: str, reports: Sequence[tuple[str, datetime, int]]
) -> None:
    """(shipment id, ETA told to the store, how many ETAs told so far), in one statement."""
    if not reports:
        return
    statement = (
        route_stops.update()
        .where(S.route_id == route_id, S.shipment_id == sa.bindparam("b_shipment"))
        .values(eta_reported=sa.bindparam("b_eta"), eta_reports=sa.bindparam("b_count"))
    )
    await conn.execute(
        statement, [{"b_shipment": s, "b_eta": eta, "b_count": n} for s, eta, n in reports]
    )


async def stop_of_shipment(
    conn: AsyncConnection, shipment_id: str, driver_id: str | None = None
) -> tuple[Route, Stop] | None:
    """The shipment's stop on the newest route it is on (open routes first), or None; with
    `driver_id`, only that driver's routes count."""
    query = (
        sa.select(routes).join(route_stops, S.route_id == R.id).where(S.shipment_id == shipment_id)
    )
    if driver_id is not None:
        query = query.where(R.driver_id == driver_id)
    candidates = [_route(r) for r in (await conn.execute(query)).all()]
    if not candidates:
        return None
    route = max(candidates, key=lambda r: (r.state in OPEN_ROUTE_STATES, r.created_at))
    query = _STOP_QUERY.where(S.route_id == route.id, S.shipment_id == shipment_id)
    return route, _stop((await conn.execute(query)).one())


async def routes_with_overdue_stops(conn: AsyncConnection, now: datetime) -> list[tuple[str, str]]:
    """(route id, driver id) of active routes with an open stop whose promise has passed."""
    query = (
        sa.select(R.id, R.driver_id)
        .distinct()
        .join(route_stops, S.route_id == R.id)
        .join(shipments, shipments.c.id == S.shipment_id)
        .where(
            R.state == RouteStatus.ACTIVE.value,
            S.state.in_(_OPEN_STOPS),
            shipments.c.promised_by < now,
        )
    )
    return [(row.id, row.driver_id) for row in (await conn.execute(query)).all()]
