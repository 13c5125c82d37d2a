"""Merchant API for widget tokens: `POST /v1/widget-tokens`, `DELETE /v1/widget-tokens/{token}`.

A store's order page asks for a token per view (server to server, with its API key) and puts it
in the embed snippet; the token opens that one shipment's widget, from that one origin, briefly.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Annotated, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from redis.exceptions import RedisError

from gateway.live import store_widget_tokens as token_store
from gateway.live import widget_rules
from gateway.live.store_widget_tokens import WidgetGrant
from gateway.platform.appkeys import CLOCK, DB, REDIS, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.names import LIVE_SHIPMENT_CHANNEL
from gateway.tenants.auth import require_tenant
from gateway.tracking import links
from gateway.tracking import store as tracking
from gateway.tracking.store_links import delivered_at

log = logging.getLogger(__name__)

TAG = "widget"


class WidgetTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    shipment_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    origin: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="the store page's origin, scheme://host[:port] (https), as browsers send it"
    )
    ttl_s: int | None = Field(
        default=None,
        ge=int(widget_rules.MIN_TTL.total_seconds()),
        le=int(widget_rules.MAX_TTL.total_seconds()),
        description="seconds the token lasts; default LASTMILE_WIDGET_TOKEN_TTL_S (3600)",
    )


class WidgetTokenOut(BaseModel):
    token: str
    expires_at: datetime
    origin: str = Field(description="the origin the token answers, normalized")


async def create_widget_token(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, WidgetTokenIn)
    settings = request.app[SETTINGS]
    try:
        origin = widget_rules.normalize_origin(body.origin, dev=settings.dev)
    except widget_rules.BadOrigin as exc:
        raise ApiError(422, "validation_error", f"origin: {exc}") from None
    now = request.app[CLOCK].now()
    ttl = timedelta(seconds=body.ttl_s or settings.widget_token_ttl_s)
    async with request.app[DB].begin() as conn:
        shipment = await tracking.load_shipment(conn, body.shipment_id)
        if shipment is None or shipment.tenant_id != tenant_id:
            raise not_found("shipment")
        # Never past the end of the shipment's tracking links (30 days after delivery).
        delivered = delivered_at(shipment.status, shipment.status_at)
        ends = min((now + ttl).replace(microsecond=0), links.expiry(now, delivered))
        if ends <= now:
            raise ApiError(409, "links_ended", "tracking ends 30 days after delivery")
        grant = WidgetGrant(tenant_id, shipment.id, origin, shipment.link_generation, ends)
        token = await token_store.issue(conn, grant, now)
    out = WidgetTokenOut(token=token, expires_at=ends, origin=origin)
    return web.json_response(out.model_dump(mode="json"), status=201)


async def revoke_widget_token(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        shipment_id = await token_store.revoke(conn, tenant_id, request.match_info["token"])
    if shipment_id is None:
        raise not_found("widget token")
    await _announce_revoked(request, shipment_id)
    return web.Response(status=204)


async def _announce_revoked(request: web.Request, shipment_id: str) -> None:
    """The shipment's open streams check their token now (gateway/live/stream.py); the ended
    one says `gone`. If Redis is away they notice at their next periodic check instead."""
    message = json.dumps({"type": "revoked", "shipment_id": shipment_id})
    try:
        await request.app[REDIS].publish(LIVE_SHIPMENT_CHANNEL + shipment_id, message)
    except (RedisError, OSError) as exc:
        log.warning("widget token revocation not announced: %s", type(exc).__name__)


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/widget-tokens",
        create_widget_token,
        summary="A short-lived token for the embeddable widget: one shipment, one origin",
        tag=TAG,
        body=WidgetTokenIn,
        response=WidgetTokenOut,
        status=201,
        errors=(409,),  # tracking has ended
    ),
    Operation(
        "DELETE",
        "/v1/widget-tokens/{token}",
        revoke_widget_token,
        summary="End a widget token now (revoking the shipment's tracking links ends them too)",
        tag=TAG,
        status=204,
    ),
)
