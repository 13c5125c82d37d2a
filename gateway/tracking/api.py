"""Merchant API for tracking links and ratings. Every query is scoped to the calling store."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Final

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from redis.exceptions import RedisError

from gateway.domain.moments import OUT_OF_RANGE, Moment
from gateway.platform.appkeys import CLOCK, DB, REDIS, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation
from gateway.platform.http.query import is_ascii_digits
from gateway.platform.names import LIVE_SHIPMENT_CHANNEL
from gateway.shipments import store as shipment_store
from gateway.tenants.auth import require_tenant
from gateway.tracking import store as tracking
from gateway.tracking import store_links as link_store
from gateway.tracking import store_ratings as rating_store
from gateway.tracking import store_short_links as short_link_store
from gateway.tracking.ratings import rating_json

log = logging.getLogger(__name__)

TAG = "tracking"
MAX_RATINGS = 500
_SINCE = TypeAdapter(Moment)


class TrackingLinkOut(BaseModel):
    url: str
    expires_at: datetime


class TrackingLinkStatsOut(BaseModel):
    opened_count: int
    first_opened_at: datetime | None
    last_opened_at: datetime | None


class RatingOut(BaseModel):
    id: str
    shipment_id: str
    tracking_number: str
    driver_id: str | None
    score: int
    comment: str | None
    source: str
    created_at: str
    updated_at: str


class RatingList(BaseModel):
    ratings: list[RatingOut]
    has_more: bool


async def create_tracking_link(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    shipment_id = request.match_info["id"]
    now = request.app[CLOCK].now()
    async with request.app[DB].begin() as conn:
        if await shipment_store.get(conn, tenant_id, shipment_id) is None:
            raise not_found("shipment")
        issued = await short_link_store.create(conn, shipment_id, now)
    if issued is None:
        raise ApiError(409, "links_ended", "tracking links end 30 days after delivery")
    url = link_store.tracking_url(request.app[SETTINGS].public_url, issued.token)
    return web.json_response(
        TrackingLinkOut(url=url, expires_at=issued.expires_at).model_dump(mode="json")
    )


async def revoke_tracking_links(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        if not await link_store.revoke_all(conn, tenant_id, request.match_info["id"]):
            raise not_found("shipment")
    await _announce_revoked(request, request.match_info["id"])
    return web.Response(status=204)


async def _announce_revoked(request: web.Request, shipment_id: str) -> None:
    """Open live streams of the shipment end now (gateway/live/stream.py); if Redis is away
    they end at their next periodic link check instead."""
    message = json.dumps({"type": "revoked", "shipment_id": shipment_id})
    try:
        await request.app[REDIS].publish(LIVE_SHIPMENT_CHANNEL + shipment_id, message)
    except (RedisError, OSError) as exc:
        log.warning("revocation not announced to live streams: %s", type(exc).__name__)


async def tracking_link_stats(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    shipment_id = request.match_info["id"]
    async with request.app[DB].connect() as conn:
        if await shipment_store.get(conn, tenant_id, shipment_id) is None:
            raise not_found("shipment")
        opens = await tracking.link_opens(conn, shipment_id)
    out = TrackingLinkStatsOut(
        opened_count=opens.count,
        first_opened_at=opens.first_opened_at,
        last_opened_at=opens.last_opened_at,
    )
    return web.json_response(out.model_dump(mode="json"))


async def list_ratings(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    since = _since(request.query.get("since"))
    limit = _limit(request.query.get("limit"))
    async with request.app[DB].connect() as conn:
        listed = await rating_store.list_for_tenant(conn, tenant_id, since, limit + 1)
    ratings = [rating_json(item.rating, item.tracking_number) for item in listed[:limit]]
    return web.json_response({"ratings": ratings, "has_more": len(listed) > limit})


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return _SINCE.validate_python(raw.replace(" ", "+"))  # a bare "+" arrives as a space
    except ValidationError:
        raise ApiError(
            400,
            "invalid_parameter",
            f"since must be an ISO-8601 time with a zone, {OUT_OF_RANGE}",
        ) from None


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_RATINGS
    if not is_ascii_digits(raw) or not 1 <= int(raw) <= MAX_RATINGS:
        raise ApiError(400, "invalid_parameter", f"limit must be 1 to {MAX_RATINGS}")
    return int(raw)


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/shipments/{id}/tracking-link",
        create_tracking_link,
        summary="A new customer tracking link (links end 30 days after delivery)",
        tag=TAG,
        response=TrackingLinkOut,
        errors=(409,),  # links have ended
    ),
    Operation(
        "DELETE",
        "/v1/shipments/{id}/tracking-link",
        revoke_tracking_links,
        summary="Revoke every tracking link of the shipment, effective on the next request",
        tag=TAG,
        status=204,
    ),
    Operation(
        "GET",
        "/v1/shipments/{id}/tracking-link",
        tracking_link_stats,
        summary="Whether and when the customer opened the tracking page (previews never count)",
        tag=TAG,
        response=TrackingLinkStatsOut,
    ),
    Operation(
        "GET",
        "/v1/ratings",
        list_ratings,
        summary="Ratings created or changed at or after `since`, oldest change first",
        tag=TAG,
        response=RatingList,
        query=("since", "limit"),
    ),
)
