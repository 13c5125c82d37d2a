"""The notification log API: list (by shipment, status or reason) and re-send on purpose.

`outcome_unknown` is the one state a store must decide about: the provider may have sent the
message (a worker died during the call, or Twilio took the request and never answered), so the
gateway does not send it again by itself; a Twilio status callback may still settle it. The
store lists them (`?reason=outcome_unknown`) and re-sends the ones it wants
(`POST /v1/notifications/{id}/resend`, which creates a new notification).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from aiohttp import web

from channels.sms_length import segment_count
from gateway.domain.privacy import mask_email, mask_phone
from gateway.notifications import store
from gateway.notifications.plan import plan_resend
from gateway.notifications.rules import ChannelKind, NotificationStatus
from gateway.notifications.schemas import NotificationList, NotificationOut
from gateway.platform.appkeys import DB, RELAY
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation
from gateway.platform.http.query import is_ascii_digits
from gateway.platform.metrics import NOTIFICATIONS_OUTCOME_UNKNOWN
from gateway.shipments import store as shipment_store
from gateway.tenants.auth import require_tenant

log = logging.getLogger(__name__)

TAG = "notifications"
MAX_LIMIT: Final = 500
_SHOWN = ("queued", "sent", "delivered", "failed", "suppressed")  # `sending` shows as queued


def _filter(query: Any) -> store.LogFilter:
    """The query string as a filter; 400 naming the parameter that is wrong."""
    shipment_id = query.get("shipment_id", "").strip() or None
    status, reason = query.get("status", "").strip(), query.get("reason", "").strip()
    if status and status not in _SHOWN:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(_SHOWN)}")
    if len(reason) > 64:
        raise ApiError(400, "invalid_parameter", "reason is at most 64 characters")
    if not (shipment_id or status or reason):
        raise ApiError(400, "missing_parameter", "shipment_id, status or reason is required")
    limit_text = query.get("limit", "100").strip()
    if not is_ascii_digits(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit must be 1 to {MAX_LIMIT}")
    statuses: tuple[NotificationStatus, ...] = ()
    if status:
        statuses = (NotificationStatus(status),)
        if status == NotificationStatus.QUEUED.value:
            statuses += (NotificationStatus.SENDING,)
    return store.LogFilter(shipment_id, statuses, reason or None, int(limit_text))


async def list_notifications(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    wanted = _filter(request.query)
    async with request.app[DB].connect() as conn:
        shipment_id = wanted.shipment_id
        if shipment_id and await shipment_store.get(conn, tenant_id, shipment_id) is None:
            raise not_found("shipment")
        rows = await store.list_log(conn, tenant_id, wanted)
    out = NotificationList(notifications=[_notification(row) for row in rows])
    return web.json_response(out.model_dump(mode="json"))


async def resend_notification(request: web.Request) -> web.Response:
    """201 with the new notification; 200 with it when this one was re-sent before."""
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        original = await store.get(conn, request.match_info["id"])
        if original is None or original.tenant_id != tenant_id:
            raise not_found("notification")
        if original.status is not NotificationStatus.FAILED:
            raise ApiError(409, "not_failed", "only a failed notification can be re-sent")
        new_id, created = await plan_resend(conn, original)
        row = await store.get(conn, new_id)
    if row is None:  # written in the transaction above
        raise not_found("notification")
    if created:
        request.app[RELAY].wake()
        log.info("notification %s re-sent as %s by its store", original.id, new_id)
    body = _notification(row).model_dump(mode="json")
    return web.json_response(body, status=201 if created else 200)


def _notification(row: store.Notification) -> NotificationOut:
    status = row.status
    if status is NotificationStatus.SENDING:  # internal: the contract knows five states
        status = NotificationStatus.QUEUED
    return NotificationOut(
        id=row.id,
        shipment_id=row.shipment_id,
        event=row.event.value,
        channel=row.channel,
        to=_masked(row.channel, row.address),
        template=row.template,
        subject=row.subject,
        body=row.body,
        sms_segments=(
            segment_count(row.body) if row.channel is ChannelKind.SMS and row.body else None
        ),
        status=status.value,
        reason=row.reason,
        provider_message_id=row.provider_id,
        attempts=row.attempts,
        send_after=row.send_after,
        resend_of=row.resend_of,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
    )


def _masked(channel: ChannelKind, address: str | None) -> str | None:
    if channel is ChannelKind.SMS:
        return mask_phone(address)
    if channel is ChannelKind.EMAIL:
        return mask_email(address)
    return f"{address[:6]}…" if address else None


async def refresh_metrics(app: web.Application) -> None:
    """Before a scrape: how many notifications have an unknown outcome (every process sees the
    same number: it comes from the database, not from whichever worker decided it)."""
    async with asyncio.timeout(1.0), app[DB].connect() as conn:
        counts = await store.count_outcome_unknown(conn)
    for kind in ChannelKind:
        NOTIFICATIONS_OUTCOME_UNKNOWN.labels(kind.value).set(counts.get(kind.value, 0))


API: Final = (
    Operation(
        "GET",
        "/v1/notifications",
        list_notifications,
        summary="Notifications of a shipment, or the store's newest by status or reason "
        "(e.g. reason=outcome_unknown)",
        tag=TAG,
        response=NotificationList,
        query=("shipment_id", "status", "reason", "limit"),
        errors=(404,),  # the shipment is not this store's
    ),
    Operation(
        "POST",
        "/v1/notifications/{id}/resend",
        resend_notification,
        summary="Send a failed notification again, on purpose, as a new notification",
        tag=TAG,
        response=NotificationOut,
        status=201,
        errors=(409,),  # only a failed notification can be re-sent
    ),
)
