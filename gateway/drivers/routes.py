"""Merchant API for drivers (`/v1/drivers`) and the dispatcher's alerts feed (`/v1/alerts`).

Delivery routes are in `routes_delivery.py`, the driver app's own API in `routes_app.py`; `API`
here lists every merchant operation of the area for gateway/app.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from aiohttp import web
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from gateway.domain.privacy import mask_phone
from gateway.drivers import store as driver_store
from gateway.drivers import store_alerts as alert_store
from gateway.drivers import tokens
from gateway.drivers.model import Driver
from gateway.drivers.routes_delivery import API as DELIVERY_API
from gateway.drivers.rules.pings import Ping
from gateway.drivers.schemas import (
    AlertList,
    AlertOut,
    DriverCreated,
    DriverIn,
    DriverList,
    DriverOut,
    DriverPatch,
    PositionOut,
)
from gateway.drivers.store_keys import signing_key
from gateway.platform.appkeys import CLOCK, DB
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.http.query import is_ascii_digits
from gateway.tenants.auth import require_tenant

TAG = "drivers"
MAX_PAGE: Final = 200
_SINCE = TypeAdapter(AwareDatetime)


def driver_json(driver: Driver) -> DriverOut:
    return DriverOut(
        id=driver.id,
        name=driver.name,
        phone=mask_phone(driver.phone),
        position=_position(driver.last_ping),
        created_at=driver.created_at,
        updated_at=driver.updated_at,
    )


def _position(last_ping: dict[str, object] | None) -> PositionOut | None:
    if not last_ping:
        return None
    ping = Ping.from_json(last_ping)
    return PositionOut(
        lat=ping.lat,
        lon=ping.lon,
        recorded_at=ping.recorded_at,
        accuracy_m=ping.accuracy_m,
        speed_mps=ping.speed_mps,
        heading=ping.heading,
    )


def _with_token(driver: Driver, key: tuple[str, bytes], now: datetime) -> web.Response:
    kid, secret = key
    token, expires_at = tokens.mint(
        secret,
        kid,
        driver_id=driver.id,
        tenant_id=driver.tenant_id,
        version=driver.token_version,
        now=now,
    )
    body = DriverCreated(
        **driver_json(driver).model_dump(), token=token, token_expires_at=expires_at
    )
    return web.json_response(body.model_dump(mode="json"), status=201)


async def create_driver(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, DriverIn)
    now = request.app[CLOCK].now()
    async with request.app[DB].begin() as conn:
        driver = await driver_store.create(conn, tenant_id, body.name, body.phone, now)
        key = await signing_key(conn)
    return _with_token(driver, key, now)


async def reset_token(request: web.Request) -> web.Response:
    """A new token for the driver; every older one stops working on its next request."""
    tenant_id = await require_tenant(request)
    now = request.app[CLOCK].now()
    async with request.app[DB].begin() as conn:
        driver = await driver_store.reset_tokens(conn, tenant_id, request.match_info["id"], now)
        if driver is None:
            raise not_found("driver")
        key = await signing_key(conn)
    return _with_token(driver, key, now)


async def get_driver(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        driver = await driver_store.get(conn, tenant_id, request.match_info["id"])
    if driver is None:
        raise not_found("driver")
    return web.json_response(driver_json(driver).model_dump(mode="json"))


async def list_drivers(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    limit = _limit(request)
    async with request.app[DB].connect() as conn:
        found = await driver_store.list_for_tenant(
            conn, tenant_id, request.query.get("cursor") or None, limit + 1
        )
    page = found[:limit]
    body = DriverList(
        drivers=[driver_json(d) for d in page],
        next_cursor=page[-1].id if len(found) > limit else None,
    )
    return web.json_response(body.model_dump(mode="json"))


async def patch_driver(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, DriverPatch)
    changes = body.model_dump(exclude_none=True)
    now = request.app[CLOCK].now()
    async with request.app[DB].begin() as conn:
        if changes:
            driver = await driver_store.update(
                conn, tenant_id, request.match_info["id"], changes, now
            )
        else:
            driver = await driver_store.get(conn, tenant_id, request.match_info["id"])
    if driver is None:
        raise not_found("driver")
    return web.json_response(driver_json(driver).model_dump(mode="json"))


async def delete_driver(request: web.Request) -> web.Response:
    """The driver's tokens stop working at once; routes, positions and ratings stay."""
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        deleted = await driver_store.delete(
            conn, tenant_id, request.match_info["id"], request.app[CLOCK].now()
        )
    if not deleted:
        raise not_found("driver")
    return web.Response(status=204)


async def list_alerts(request: web.Request) -> web.Response:
    """Newest first; `since` (ISO time) bounds how far back, `cursor` pages on."""
    tenant_id = await require_tenant(request)
    since = _since(request.query.get("since"))
    cursor = _cursor(request.query.get("cursor"))
    limit = _limit(request)
    async with request.app[DB].connect() as conn:
        found = await alert_store.list_for_tenant(conn, tenant_id, since, cursor, limit + 1)
    page = found[:limit]
    body = AlertList(
        alerts=[AlertOut(**a.public()) for a in page],
        next_cursor=str(page[-1].seq) if len(found) > limit else None,
    )
    return web.json_response(body.model_dump(mode="json"))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not is_ascii_digits(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_parameter", f"limit: must be 1 to {MAX_PAGE}")
    return int(raw)


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return _SINCE.validate_python(raw)
    except ValidationError:
        raise ApiError(
            400, "invalid_parameter", "since: must be an ISO-8601 time with a zone"
        ) from None


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    if not is_ascii_digits(raw) or len(raw) > 19:
        raise ApiError(400, "invalid_parameter", "cursor: not a cursor this API gave out")
    return int(raw)


# This area's merchant operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/drivers",
        create_driver,
        summary="Add a driver; the answer carries the driver app's token (shown once)",
        tag=TAG,
        body=DriverIn,
        response=DriverCreated,
        status=201,
    ),
    Operation(
        "GET",
        "/v1/drivers",
        list_drivers,
        summary="The store's drivers with their newest position",
        tag=TAG,
        response=DriverList,
        query=("cursor", "limit"),
    ),
    Operation("GET", "/v1/drivers/{id}", get_driver, "One driver", TAG, response=DriverOut),
    Operation(
        "PATCH",
        "/v1/drivers/{id}",
        patch_driver,
        summary="Change a driver's name or phone",
        tag=TAG,
        body=DriverPatch,
        response=DriverOut,
    ),
    Operation(
        "DELETE",
        "/v1/drivers/{id}",
        delete_driver,
        summary="Remove a driver; their tokens stop working on the next request",
        tag=TAG,
        status=204,
    ),
    Operation(
        "POST",
        "/v1/drivers/{id}/token",
        reset_token,
        summary="A new token for the driver app; every older token stops working",
        tag=TAG,
        response=DriverCreated,
        status=201,
    ),
    *DELIVERY_API,
    Operation(
        "GET",
        "/v1/alerts",
        list_alerts,
        summary="The dispatcher feed: late, off route, back on route, failed attempts, "
        "low ratings; newest first",
        tag=TAG,
        response=AlertList,
        query=("since", "cursor", "limit"),
    ),
)
