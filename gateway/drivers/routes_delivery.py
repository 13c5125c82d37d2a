"""Merchant API for delivery routes (`/v1/routes`): a driver, ordered stops, a path, a window.

A stop is a registered shipment with destination coordinates; the shipment's `promised_by` is
what lateness is measured against. Each stop's state and ETA are read back from the route.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.timeline import TERMINAL
from gateway.drivers import store as driver_store
from gateway.drivers import store_routes
from gateway.drivers.model import RouteStatus, RouteWithStops
from gateway.drivers.rules.batch import RouteState
from gateway.drivers.rules.deviation import PlannedPath
from gateway.drivers.schemas import RouteIn, RouteList, RouteOut, StopOut, WindowOut
from gateway.drivers.store_routes import NewRoute, NewStop
from gateway.platform.appkeys import CLOCK, DB
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.http.query import is_ascii_digits
from gateway.tenants.auth import require_tenant

TAG = "drivers"
MAX_PAGE: Final = 100


def route_json(found: RouteWithStops) -> RouteOut:
    route = found.route
    return RouteOut(
        id=route.id,
        driver_id=route.driver_id,
        state=route.state.value,
        window=WindowOut(start=route.window_start, end=route.window_end),
        path=route.path,
        notify_stops_away=route.notify_stops_away,
        off_route=route.off_route,
        stops=[
            StopOut(
                shipment_id=s.shipment_id,
                tracking_number=s.tracking_number,
                sequence=s.sequence,
                state=s.state.value,
                destination={"address": s.address, "lat": s.lat, "lon": s.lon},
                radius_m=s.radius_m,
                service_s=s.service_s,
                eta=s.eta if s.is_open else None,
                promised_by=s.promised_by,
                arrived_at=s.arrived_at,
                done_at=s.done_at,
            )
            for s in found.stops
        ],
        started_at=route.started_at,
        finished_at=route.finished_at,
        created_at=route.created_at,
        updated_at=route.updated_at,
    )


async def create_route(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, RouteIn)
    if body.path is not None:
        try:
            PlannedPath(body.path)
        except ValueError as exc:
            raise ApiError(422, "validation_error", f"path: {exc}") from None
    async with request.app[DB].begin() as conn:
        if await driver_store.get(conn, tenant_id, body.driver_id) is None:
            raise ApiError(404, "not_found", "driver_id: driver not found")
        stops = await _stops(conn, tenant_id, body)
        new = NewRoute(
            tenant_id=tenant_id,
            driver_id=body.driver_id,
            stops=stops,
            path=body.path,
            window_start=body.window.start if body.window else None,
            window_end=body.window.end if body.window else None,
            notify_stops_away=body.notify_stops_away,
        )
        route_id = await store_routes.insert(
            conn, new, RouteState().to_json(), request.app[CLOCK].now()
        )
        created = await store_routes.get(conn, route_id)
    assert created is not None  # noqa: S101 - inserted in this transaction
    return web.json_response(route_json(created).model_dump(mode="json"), status=201)


async def _stops(conn: AsyncConnection, tenant_id: str, body: RouteIn) -> list[NewStop]:
    """The route's stops from the store's shipments. Raises ApiError naming the stop."""
    ids = [s.shipment_id for s in body.stops]
    found = await store_routes.shipments_for_stops(conn, tenant_id, ids)
    stops = []
    for index, given in enumerate(body.stops):
        where = f"stops[{index}].shipment_id"
        shipment = found.get(given.shipment_id)
        if shipment is None:
            raise ApiError(404, "not_found", f"{where}: shipment not found")
        destination = shipment.destination or {}
        lat, lon = destination.get("lat"), destination.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise ApiError(
                422, "validation_error", f"{where}: the shipment has no destination lat and lon"
            )
        if shipment.status in TERMINAL:
            raise ApiError(422, "validation_error", f"{where}: the shipment is {shipment.status}")
        stops.append(NewStop(given.shipment_id, lat, lon, given.radius_m, given.service_s))
    busy = await store_routes.open_routes_of(conn, ids)
    for index, given in enumerate(body.stops):
        if given.shipment_id in busy:
            raise ApiError(
                409,
                "already_routed",
                f"stops[{index}].shipment_id: already a stop of route {busy[given.shipment_id]}",
            )
    return stops


async def get_route(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        found = await store_routes.get(conn, request.match_info["id"], tenant_id)
    if found is None:
        raise not_found("route")
    return web.json_response(route_json(found).model_dump(mode="json"))


async def list_routes(request: web.Request) -> web.Response:
    """Newest first; `driver_id` and `state` (comma-separated) narrow it, `cursor` pages on."""
    tenant_id = await require_tenant(request)
    states = _states(request.query.get("state", ""))
    raw_limit = request.query.get("limit", "20")
    if not is_ascii_digits(raw_limit) or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise ApiError(400, "invalid_parameter", f"limit: must be 1 to {MAX_PAGE}")
    limit = int(raw_limit)
    async with request.app[DB].connect() as conn:
        found = await store_routes.list_for_tenant(
            conn,
            tenant_id,
            driver_id=request.query.get("driver_id") or None,
            states=states,
            before=request.query.get("cursor") or None,
            limit=limit + 1,
        )
    page = found[:limit]
    body = RouteList(
        routes=[route_json(r) for r in page],
        next_cursor=page[-1].route.id if len(found) > limit else None,
    )
    return web.json_response(body.model_dump(mode="json"))


def _states(raw: str) -> list[RouteStatus]:
    states = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            states.append(RouteStatus(part))
        except ValueError:
            raise ApiError(
                400, "invalid_parameter", "state: use planned, active and/or done"
            ) from None
    return states


API: Final = (
    Operation(
        "POST",
        "/v1/routes",
        create_route,
        summary="Plan a route: a driver, ordered stops (shipments), an optional path and window",
        tag=TAG,
        body=RouteIn,
        response=RouteOut,
        status=201,
        errors=(404,),  # the driver or a stop's shipment is not this store's
    ),
    Operation(
        "GET",
        "/v1/routes",
        list_routes,
        summary="Routes, newest first",
        tag=TAG,
        response=RouteList,
        query=("driver_id", "state", "cursor", "limit"),
    ),
    Operation(
        "GET",
        "/v1/routes/{id}",
        get_route,
        summary="One route with each stop's state and ETA",
        tag=TAG,
        response=RouteOut,
    ),
)
