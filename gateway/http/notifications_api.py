"""Merchant API: the notification log of a shipment, and per-store template overrides."""

from __future__ import annotations

import re
from typing import Any, Final

from aiohttp import web

from channels.sms_length import segment_count
from gateway.appkeys import DB
from gateway.domain.notify import ChannelKind, NotificationStatus, TriggerEvent
from gateway.domain.privacy import mask_email, mask_phone
from gateway.http.auth import require_tenant
from gateway.http.errors import ApiError, not_found
from gateway.http.notification_schemas import (
    NotificationList,
    NotificationOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
)
from gateway.http.openapi import operation, read_body
from gateway.notify.render import PARTS, SAMPLE_CONTEXT, TemplateProblem, compile_override
from gateway.store import notification_config as config
from gateway.store import notifications as store
from gateway.store import shipments as shipment_store

TAG = "notifications"
TEMPLATE: Final = "/v1/templates/{channel}/{locale}/{event}"
_LOCALE: Final = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


@operation(
    "GET",
    "/v1/notifications",
    summary="Every notification of a shipment: channel, template, text, status, reason",
    tag=TAG,
    response=NotificationList,
    query=("shipment_id",),
)
async def list_notifications(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    shipment_id = request.query.get("shipment_id", "").strip()
    if not shipment_id:
        raise ApiError(400, "missing_parameter", "shipment_id is required")
    async with request.app[DB].connect() as conn:
        if await shipment_store.get(conn, tenant_id, shipment_id) is None:
            raise not_found("shipment")
        rows = await store.list_for_shipment(conn, tenant_id, shipment_id)
    out = NotificationList(notifications=[_notification(row) for row in rows])
    return web.json_response(out.model_dump(mode="json"))


def _notification(row: Any) -> NotificationOut:
    status = row.status
    if status == NotificationStatus.SENDING.value:  # internal: the contract knows five states
        status = NotificationStatus.QUEUED.value
    return NotificationOut(
        id=row.id,
        shipment_id=row.shipment_id,
        event=row.event,
        channel=row.channel,
        to=_masked(row.channel, row.address),
        template=row.template,
        subject=row.subject,
        body=row.body,
        sms_segments=segment_count(row.body)
        if row.channel == ChannelKind.SMS.value and row.body
        else None,
        status=status,
        reason=row.reason,
        provider_message_id=row.provider_id,
        attempts=row.attempts,
        send_after=row.send_after,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
    )


def _masked(channel: str, address: str | None) -> str | None:
    if channel == ChannelKind.SMS.value:
        return mask_phone(address)
    if channel == ChannelKind.EMAIL.value:
        return mask_email(address)
    return f"{address[:6]}…" if address else None


def _slot(request: web.Request) -> tuple[ChannelKind, str, TriggerEvent]:
    """The (channel, locale, event) a template path names; 404 for one that cannot exist."""
    info = request.match_info
    try:
        channel, event = ChannelKind(info["channel"]), TriggerEvent(info["event"])
    except ValueError:
        raise not_found("template slot") from None
    if not _LOCALE.match(info["locale"]):
        raise not_found("template slot")
    return channel, info["locale"], event


@operation(
    "PUT",
    TEMPLATE,
    summary="Override a message template (Jinja2, sandboxed) for a channel, locale and event",
    tag=TAG,
    body=TemplateIn,
    response=TemplateOut,
)
async def put_template(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    channel, locale, event = _slot(request)
    body = await read_body(request, TemplateIn)
    given = body.model_dump(exclude_none=True)
    extra = sorted(set(given) - set(PARTS[channel]))
    if extra:
        allowed = ", ".join(PARTS[channel])
        raise ApiError(422, "validation_error", f"{channel.value} templates take {allowed} only")
    try:
        preview = compile_override(channel, given)
    except TemplateProblem as exc:
        raise ApiError(422, "invalid_template", str(exc)) from None
    async with request.app[DB].begin() as conn:
        key = (channel.value, locale, event.value)
        saved = await config.put_template(conn, tenant_id, key, given)
    out = _template(saved)
    out.preview = preview.body
    if channel is ChannelKind.SMS:
        out.sms_segments = segment_count(preview.body)
    return web.json_response(out.model_dump(mode="json"))


@operation(
    "GET",
    "/v1/templates",
    summary="The store's template overrides, and the variables templates can use",
    tag=TAG,
    response=TemplateList,
)
async def list_templates(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        overrides = await config.list_templates(conn, tenant_id)
    out = TemplateList(templates=[_template(t) for t in overrides], variables=list(SAMPLE_CONTEXT))
    return web.json_response(out.model_dump(mode="json"))


@operation("DELETE", TEMPLATE, summary="Go back to the built-in template", tag=TAG, status=204)
async def delete_template(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    channel, locale, event = _slot(request)
    async with request.app[DB].begin() as conn:
        key = (channel.value, locale, event.value)
        if not await config.delete_template(conn, tenant_id, key):
            raise not_found("template override")
    return web.Response(status=204)


def _template(t: config.TemplateOverride) -> TemplateOut:
    return TemplateOut(
        channel=ChannelKind(t.channel),
        locale=t.locale,
        event=TriggerEvent(t.event),
        parts=t.parts,
        updated_at=t.updated_at,
    )
