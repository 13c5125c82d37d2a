"""Carrier connections after creation: list, read, rotate credentials, delete.

Rotation keeps the webhook URL: PATCH `{"auth": {..., "secrets": [new, old]}}`, wait until the
carrier signs with the new secret, then PATCH `{"auth": {..., "secret": new}}`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from gateway.appkeys import CONNECTIONS, DB, SETTINGS
from gateway.http.auth import require_tenant
from gateway.http.errors import ApiError, not_found
from gateway.http.openapi import operation, read_body
from gateway.http.schemas import (
    CarrierConnectionList,
    CarrierConnectionPatch,
    CarrierConnectionView,
)
from gateway.store import connections
from webhooks.registry import InvalidAuthConfig, auth_from_config

TAG = "merchant"
PATH = "/v1/carrier-connections/{id}"


def _view(request: web.Request, row: sa.Row[Any]) -> dict[str, Any]:
    url = f"{request.app[SETTINGS].public_url}/hooks/{row.carrier}/{row.id}"
    return CarrierConnectionView(
        id=row.id,
        carrier=row.carrier,
        webhook_url=url,
        scheme=row.scheme,
        header=row.header,
        active_secrets=len(row.secrets),
        created_at=row.created_at,
    ).model_dump(mode="json")


@operation(
    "GET",
    "/v1/carrier-connections",
    summary="The store's carrier connections (never their secrets)",
    tag=TAG,
    response=CarrierConnectionList,
)
async def list_connections(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        rows = await connections.list_for_tenant(conn, tenant_id)
    return web.json_response({"carrier_connections": [_view(request, row) for row in rows]})


@operation("GET", PATH, summary="One carrier connection", tag=TAG, response=CarrierConnectionView)
async def get_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        row = await connections.get_for_tenant(conn, tenant_id, request.match_info["id"])
    if row is None:
        raise not_found("carrier connection")
    return web.json_response(_view(request, row))


@operation(
    "PATCH",
    PATH,
    summary="Replace a connection's credentials (rotation: send both secrets, then the new one)",
    tag=TAG,
    body=CarrierConnectionPatch,
    response=CarrierConnectionView,
)
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
    request.app[CONNECTIONS].forget(connection_id, row.carrier)
    return web.json_response(_view(request, row))


@operation("DELETE", PATH, summary="Delete a carrier connection", tag=TAG, status=204)
async def delete_connection(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    connection_id = request.match_info["id"]
    async with request.app[DB].begin() as conn:
        row = await connections.get_for_tenant(conn, tenant_id, connection_id)
        if row is None:
            raise not_found("carrier connection")
        await connections.delete(conn, tenant_id, connection_id)
    request.app[CONNECTIONS].forget(connection_id, row.carrier)
    return web.Response(status=204)
