"""Merchant API (`/v1`): carrier connections and shipments. Every query is scoped to the caller."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from gateway.appkeys import CLOCK, DB, SETTINGS
from gateway.domain.privacy import mask_email, mask_phone
from gateway.http.auth import require_tenant
from gateway.http.errors import ApiError, not_found
from gateway.http.openapi import operation, read_body
from gateway.http.schemas import (
    CarrierConnectionIn,
    CarrierConnectionOut,
    RecipientOut,
    ShipmentIn,
    ShipmentOut,
)
from gateway.store import connections
from gateway.store import shipments as shipment_store
from gateway.store.links import current_tracking_url
from gateway.store.shipments import Registration, ShipmentExists
from webhooks.registry import InvalidAuthConfig, auth_from_config

TAG = "merchant"


@operation(
    "POST",
    "/v1/carrier-connections",
    summary="Connect a carrier account; returns the webhook URL to give the carrier",
    tag=TAG,
    body=CarrierConnectionIn,
    response=CarrierConnectionOut,
    status=201,
)
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


@operation(
    "POST",
    "/v1/shipments",
    summary="Register a shipment; carrier events already received for it are attached",
    tag=TAG,
    body=ShipmentIn,
    response=ShipmentOut,
    status=201,
)
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


@operation(
    "GET",
    "/v1/shipments/{id}",
    summary="One shipment with its timeline",
    tag=TAG,
    response=ShipmentOut,
)
async def get_shipment(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    return web.json_response(await _shipment_json(request, tenant_id, request.match_info["id"]))


@operation(
    "GET",
    "/v1/shipments",
    summary="Look a shipment up by tracking number (and carrier)",
    tag=TAG,
    response=ShipmentOut,
    query=("tracking_number", "carrier"),
)
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
    async with request.app[DB].begin() as conn:  # begin: the very first link creates its key
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
