"""Shipments API (`/v1/shipments`): register, read and list shipments, scoped to the calling store.

`GET /v1/shipments` has two shapes. With `tracking_number` it is the lookup it always was: one
shipment (the oldest match; narrow it with `carrier`), or 404. Without it, a page of the store's
shipments, newest first, with `next_cursor` for the next page and the filters of
`ShipmentListQuery`.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.domain.privacy import mask_email, mask_phone
from gateway.drivers import proof_links
from gateway.drivers.shipment_view import driver_eta
from gateway.platform.appkeys import CLOCK, DB, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body, read_query
from gateway.shipments import store as shipment_store
from gateway.shipments.schemas import (
    RecipientOut,
    ShipmentIn,
    ShipmentList,
    ShipmentListQuery,
    ShipmentOut,
    ShipmentSummary,
    decode_cursor,
    encode_cursor,
)
from gateway.shipments.store import Registration, Shipment, ShipmentExists, ShipmentFilter
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


async def find_or_list_shipments(request: web.Request) -> web.Response:
    """The lookup by tracking number (one shipment, as before), else a page of shipments."""
    tenant_id = await require_tenant(request)
    tracking_number = request.query.get("tracking_number", "").strip().upper()
    if "tracking_number" in request.query and not tracking_number:
        raise ApiError(400, "invalid_parameter", "tracking_number: must not be empty")
    if not tracking_number:
        return await _list_shipments(request, tenant_id)
    async with request.app[DB].connect() as conn:
        found = await shipment_store.find(
            conn, tenant_id, tracking_number, request.query.get("carrier")
        )
    if not found:
        raise not_found("shipment")
    return web.json_response(await _shipment_json(request, tenant_id, found[0].id))


async def _list_shipments(request: web.Request, tenant_id: str) -> web.Response:
    query = read_query(request, ShipmentListQuery)
    where = ShipmentFilter(
        statuses=query.status,
        carrier=query.carrier,
        created_since=query.created_since,
        created_until=query.created_until,
        before=decode_cursor(query.cursor) if query.cursor else None,
    )
    async with request.app[DB].connect() as conn:
        page = await shipment_store.list_page(conn, tenant_id, where, query.limit + 1)
    shown = page[: query.limit]
    last = shown[-1] if len(page) > query.limit else None
    out = ShipmentList(
        shipments=[_summary(shipment) for shipment in shown],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )
    return web.json_response(out.model_dump(mode="json"))


async def _shipment_json(request: web.Request, tenant_id: str, shipment_id: str) -> dict[str, Any]:
    async with request.app[DB].begin() as conn:  # begin: the shipment's first link is written
        shipment = await shipment_store.get(conn, tenant_id, shipment_id)
        if shipment is None:
            raise not_found("shipment")
        public_url, now = request.app[SETTINGS].public_url, request.app[CLOCK].now()
        events = [event.to_json() for event in await shipment_store.timeline(conn, shipment_id)]
        # A driver's proof photo is kept as a reference; the API shows a signed link.
        events = await proof_links.with_api_links(conn, shipment_id, events, public_url, now)
        tracking_url = await current_tracking_url(conn, public_url, shipment_id, now)
        eta = await driver_eta(conn, shipment_id)
    return ShipmentOut(
        id=shipment.id,
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        status=shipment.status.value,
        estimated_delivery=shipment.estimated_delivery,
        eta=eta,  # the store's own driver's estimate, when one delivers it
        events=events,  # type: ignore[arg-type]
        tracking_url=tracking_url,
        order_id=shipment.order_id,
        recipient=_masked_recipient(shipment),
        destination=shipment.destination,
        promised_by=shipment.promised_by,
        registered=shipment.registered,
        created_at=shipment.created_at,
        updated_at=shipment.updated_at,
    ).model_dump(mode="json")


def _summary(shipment: Shipment) -> ShipmentSummary:
    return ShipmentSummary(
        id=shipment.id,
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        status=shipment.status.value,
        estimated_delivery=shipment.estimated_delivery,
        order_id=shipment.order_id,
        recipient=_masked_recipient(shipment),
        promised_by=shipment.promised_by,
        registered=shipment.registered,
        created_at=shipment.created_at,
        updated_at=shipment.updated_at,
    )


def _masked_recipient(shipment: Shipment) -> RecipientOut | None:
    recipient = shipment.recipient
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
        errors=(409,),  # the tracking number is registered already
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
        find_or_list_shipments,
        summary=(
            "List the store's shipments, newest first (cursor pages, filters); with "
            "`tracking_number` (and `carrier`): that one shipment with its timeline, or 404"
        ),
        tag=TAG,
        response=ShipmentList,
        query=("tracking_number", *ShipmentListQuery.model_fields),
        errors=(404,),
    ),
)
