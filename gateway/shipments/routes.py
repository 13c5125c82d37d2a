"""Shipments API (`/v1/shipments`): register and read shipments, scoped to the calling store."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from aiohttp import web

from gateway.domain.privacy import mask_email, mask_phone
from gateway.platform.appkeys import CLOCK, DB, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.shipments import store as shipment_store
from gateway.shipments.schemas import RecipientOut, ShipmentIn, ShipmentOut
from gateway.shipments.store import Registration, ShipmentExists
from gateway.tenants.auth import require_tenant
from gateway.tracking.store_short_links import current_tracking_url

TAG = "merchant"


async def create_shipment(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, ShipmentIn)
    registration = Registration(
        tracking_number=body.tracking_number,
        carrier=body.carrier,
        order_id=body.order_id,
        recipient=body.recipient.model_dump(),
        destination=body.destination.model_dump() if body.destination else None,
        promised_by=body.promised_by,
    )
    try:
        async with request.app[DB].begin() as conn:
            shipment_id = await shipment_store.register(conn, tenant_id, registration)
    except ShipmentExists:
        raise ApiError(
            409, "shipment_exists", "this tracking number is already registered"
        ) from None
    return web.json_response(await _shipment_json(request, tenant_id, shipment_id), status=201)


async def get_shipment(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    return web.json_response(await _shipment_json(request, tenant_id, request.match_info["id"]))


async def find_shipment(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    tracking_number = request.query.get("tracking_number", "").strip().upper()
    if not tracking_number:
        raise ApiError(400, "missing_parameter", "tracking_number is required")
    async with request.app[DB].connect() as conn:
        found = await shipment_store.find(
            conn, tenant_id, tracking_number, request.query.get("carrier")
        )
    if not found:
        raise not_found("shipment")
    return web.json_response(await _shipment_json(request, tenant_id, found[0].id))


async def _shipment_json(request: web.Request, tenant_id: str, shipment_id: str) -> dict[str, Any]:
    async with request.app[DB].begin() as conn:  # begin: the shipment's first link is written
        row = await shipment_store.get(conn, tenant_id, shipment_id)
        if row is None:
            raise not_found("shipment")
        timeline = await shipment_store.timeline(conn, shipment_id)
        tracking_url = await current_tracking_url(
            conn, request.app[SETTINGS].public_url, shipment_id, request.app[CLOCK].now()
        )
    return ShipmentOut(
        id=row.id,
        tracking_number=row.tracking_number,
        carrier=row.carrier,
        status=row.status,
        estimated_delivery=row.estimated_delivery,
        events=timeline,  # type: ignore[arg-type]
        tracking_url=tracking_url,
        order_id=row.order_id,
        recipient=_masked_recipient(row),
        destination=row.destination,
        promised_by=row.promised_by,
        registered=row.registered,
        created_at=row.created_at,
        updated_at=row.updated_at,
    ).model_dump(mode="json")


def _masked_recipient(row: sa.Row[Any]) -> RecipientOut | None:
    recipient = row.recipient
    if not recipient:
        return None
    return RecipientOut(
        name=recipient.get("name"),
        phone=mask_phone(recipient.get("phone")),
        email=mask_email(recipient.get("email")),
        locale=recipient.get("locale"),
        timezone=recipient.get("timezone"),
    )


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/shipments",
        create_shipment,
        summary="Register a shipment; carrier events already received for it are attached",
        tag=TAG,
        body=ShipmentIn,
        response=ShipmentOut,
        status=201,
    ),
    Operation(
        "GET",
        "/v1/shipments/{id}",
        get_shipment,
        summary="One shipment with its timeline",
        tag=TAG,
        response=ShipmentOut,
    ),
    Operation(
        "GET",
        "/v1/shipments",
        find_shipment,
        summary="Look a shipment up by tracking number (and carrier)",
        tag=TAG,
        response=ShipmentOut,
        query=("tracking_number", "carrier"),
    ),
)
