"""Carrier ingest over HTTP: the carrier webhook and the store's carrier connections.

`POST /hooks/{carrier}/{connection_id}`: bounded read, verify, parse, one committed transaction,
202. `/v1/carrier-connections`: connect a carrier, list, read, rotate credentials in place, delete.
Rotation keeps the webhook URL: PATCH `{"auth": {..., "secrets": [new, old]}}`, wait until the
carrier signs with the new secret, then PATCH `{"auth": {..., "secret": new}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from aiohttp import web

from gateway.carriers import store as connections
from gateway.carriers.connection_cache import CONNECTIONS
from gateway.carriers.schemas import (
    CarrierConnectionIn,
    CarrierConnectionList,
    CarrierConnectionOut,
    CarrierConnectionPatch,
    CarrierConnectionView,
)
from gateway.carriers.store import CarrierConnection
from gateway.domain.events import CanonicalEvent, Status
from gateway.domain.text import clean_text
from gateway.platform.appkeys import CLOCK, DB, RELAY, SETTINGS
from gateway.platform.http.edge import read_bytes
from gateway.platform.http.errors import ApiError, error_response, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.metrics import (
    EVENTS_ACCEPTED,
    EVENTS_DUPLICATE,
    UNKNOWN_CODE_LABEL,
    UNKNOWN_STATUS_CODES,
    WEBHOOK_REQUESTS,
)
from gateway.shipments.store_ingest import IngestRequest
from gateway.shipments.writer import INGEST
from gateway.tenants.auth import require_tenant
from webhooks.base import AuthScheme, BadPayload, BadSignature, CarrierAdapter, ConnectionAuth
from webhooks.fields import storable
from webhooks.registry import CARRIERS, InvalidAuthConfig, auth_from_config

log = logging.getLogger(__name__)

# Never kept with the raw payload: credentials and cookies.
_DROPPED_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
_seen_unknown: set[tuple[str, str]] = set()  # log each unknown code once per process


def _unauthorized() -> ApiError:
    # One answer for every auth failure, so a caller learns nothing about which check failed.
    return ApiError(401, "unauthorized", "request could not be authenticated")


async def carrier_webhook(request: web.Request) -> web.Response:
    carrier = request.match_info["carrier"]
    adapter = CARRIERS.get(carrier)
    label = carrier if adapter else "other"
    try:
        # Who is calling is settled before the body is read whenever the body plays no part:
        # an unknown connection or a wrong static credential costs no read (and no wait).
        connection_id = request.match_info["connection_id"]
        connection = await request.app[CONNECTIONS].get(connection_id, carrier)
        if adapter is None or connection is None:
            raise _unauthorized()
        if adapter.AUTH_SCHEME is AuthScheme.STATIC_HEADER:
            _verify(request, adapter, connection.auth, b"")
        body = await read_bytes(request)
        _verify(request, adapter, connection.auth, body)
        try:
            events = storable(adapter.parse(body))
        except BadPayload:
            # The reason stays out of the body: it could quote the payload.
            raise ApiError(
                400, "unparsable_payload", f"{carrier} payload could not be parsed"
            ) from None
    except ApiError as exc:
        WEBHOOK_REQUESTS.labels(label, exc.code).inc()
        return error_response(exc.status, exc.code, exc.message)

    _count_unknown(carrier, events)
    stored_headers = {
        k: clean_text(v)  # undecodable bytes arrive as lone surrogates; no JSON column takes them
        for k, v in request.headers.items()
        if k.lower() not in _DROPPED_HEADERS and k.lower() != connection.auth.header.lower()
    }
    result = await request.app[INGEST].submit(
        IngestRequest(connection.tenant_id, connection.id, carrier, stored_headers, body, events)
    )
    if result.changes:
        request.app[RELAY].wake()
    WEBHOOK_REQUESTS.labels(carrier, "accepted").inc()
    EVENTS_ACCEPTED.labels(carrier).inc(len(events))
    EVENTS_DUPLICATE.labels(carrier).inc(result.duplicates)
    return web.json_response({"accepted": len(events)}, status=202)


def _verify(
    request: web.Request, adapter: CarrierAdapter, auth: ConnectionAuth, body: bytes
) -> None:
    try:
        adapter.verify(request.headers, body, auth, now=request.app[CLOCK].now())
    except BadSignature:
        raise _unauthorized() from None


def _count_unknown(carrier: str, events: Sequence[CanonicalEvent]) -> None:
    for event in events:
        if event.status is Status.UNKNOWN:
            code = UNKNOWN_CODE_LABEL(carrier, event.carrier_status_code[:32])
            UNKNOWN_STATUS_CODES.labels(carrier, code).inc()
            if (carrier, event.carrier_status_code) not in _seen_unknown and len(
                _seen_unknown
            ) < 10_000:
                _seen_unknown.add((carrier, event.carrier_status_code))
                log.warning(
                    "unmapped %s status code %r kept as unknown", carrier, event.carrier_status_code
                )


TAG = "merchant"
PATH = "/v1/carrier-connections/{id}"


async def create_carrier_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, CarrierConnectionIn)
    try:
        auth = auth_from_config(body.carrier, body.auth.model_dump(exclude_none=True))
    except InvalidAuthConfig as exc:
        raise ApiError(422, "validation_error", f"auth: {exc}") from None
    async with request.app[DB].begin() as conn:
        connection_id = await connections.create_connection(conn, tenant_id, body.carrier, auth)
    url = f"{request.app[SETTINGS].public_url}/hooks/{body.carrier}/{connection_id}"
    out = CarrierConnectionOut(id=connection_id, carrier=body.carrier, webhook_url=url)
    return web.json_response(out.model_dump(), status=201)


def _view(request: web.Request, connection: CarrierConnection) -> dict[str, Any]:
    url = f"{request.app[SETTINGS].public_url}/hooks/{connection.carrier}/{connection.id}"
    return CarrierConnectionView(
        id=connection.id,
        carrier=connection.carrier,
        webhook_url=url,
        scheme=connection.auth.scheme.value,
        header=connection.auth.header,
        active_secrets=len(connection.auth.secrets),
        created_at=connection.created_at,
    ).model_dump(mode="json")


async def list_connections(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        rows = await connections.list_for_tenant(conn, tenant_id)
    return web.json_response({"carrier_connections": [_view(request, row) for row in rows]})


async def get_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        row = await connections.get_for_tenant(conn, tenant_id, request.match_info["id"])
    if row is None:
        raise not_found("carrier connection")
    return web.json_response(_view(request, row))


async def patch_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    connection_id = request.match_info["id"]
    body = await read_body(request, CarrierConnectionPatch)
    async with request.app[DB].begin() as conn:
        row = await connections.get_for_tenant(conn, tenant_id, connection_id)
        if row is None:
            raise not_found("carrier connection")
        try:
            auth = auth_from_config(row.carrier, body.auth.model_dump(exclude_none=True))
        except InvalidAuthConfig as exc:
            raise ApiError(422, "validation_error", f"auth: {exc}") from None
        await connections.replace_auth(conn, tenant_id, connection_id, auth)
        row = await connections.get_for_tenant(conn, tenant_id, connection_id)
    assert row is not None  # noqa: S101 - updated inside this transaction
    await request.app[CONNECTIONS].changed(connection_id, row.carrier)
    return web.json_response(_view(request, row))


async def delete_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    connection_id = request.match_info["id"]
    async with request.app[DB].begin() as conn:
        row = await connections.get_for_tenant(conn, tenant_id, connection_id)
        if row is None:
            raise not_found("carrier connection")
        await connections.delete(conn, tenant_id, connection_id)
    await request.app[CONNECTIONS].changed(connection_id, row.carrier)
    return web.Response(status=204)


WEBHOOK_ROUTES: Final = (web.post("/hooks/{carrier}/{connection_id}", carrier_webhook),)


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/carrier-connections",
        create_carrier_connection,
        summary="Connect a carrier account; returns the webhook URL to give the carrier",
        tag=TAG,
        body=CarrierConnectionIn,
        response=CarrierConnectionOut,
        status=201,
    ),
    Operation(
        "GET",
        "/v1/carrier-connections",
        list_connections,
        summary="The store's carrier connections (never their secrets)",
        tag=TAG,
        response=CarrierConnectionList,
    ),
    Operation(
        "GET",
        PATH,
        get_connection,
        summary="One carrier connection",
        tag=TAG,
        response=CarrierConnectionView,
    ),
    Operation(
        "PATCH",
        PATH,
        patch_connection,
        summary="Replace a connection's credentials (rotating: both secrets, then the new one)",
        tag=TAG,
        body=CarrierConnectionPatch,
        response=CarrierConnectionView,
    ),
    Operation(
        "DELETE",
        PATH,
        delete_connection,
        summary="Delete a carrier connection",
        tag=TAG,
        status=204,
    ),
)
