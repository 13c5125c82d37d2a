"""Recording what became of a notification: sent, failed (then fall back), suppressed.

Used by the send job and by the provider callbacks, always inside the caller's transaction, and
each writes the store webhook (`notification.sent` / `notification.failed`) in that transaction
with an idempotency key derived from the notification, so it is emitted once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import PermanentSendError
from gateway.notifications import store
from gateway.notifications.plan import plan_fallback
from gateway.notifications.rules import ChannelKind, NotificationStatus, Reason
from gateway.notifications.tables import notifications
from gateway.store_webhooks.events import EventType, emit

log = logging.getLogger(__name__)

_N = notifications.c
# Where a provider's delivery report may move a row from (reports arrive in any order).
_REPORT_FROM = {
    NotificationStatus.SENT: {NotificationStatus.SENDING, NotificationStatus.FAILED},
    NotificationStatus.DELIVERED: {
        NotificationStatus.SENDING,
        NotificationStatus.SENT,
        NotificationStatus.FAILED,
    },
    NotificationStatus.FAILED: {NotificationStatus.SENDING, NotificationStatus.SENT},
}


async def mark_sent(conn: AsyncConnection, row: Any, provider_id: str) -> None:
    """sending → sent. A delivery report may already have moved it further: keep that."""
    now = datetime.now(UTC)
    result = await conn.execute(
        notifications.update()
        .where(_N.id == row.id, _N.status == NotificationStatus.SENDING.value)
        .values(status=NotificationStatus.SENT.value, provider_id=provider_id, sent_at=now)
        .values(updated_at=now, reason=None)
    )
    if not result.rowcount:  # a delivery report got here first and said what happened
        await store.update(conn, row.id, provider_id=provider_id)
        return
    await _emit(conn, row, EventType.NOTIFICATION_SENT, provider_id=provider_id)


async def mark_failed(
    conn: AsyncConnection,
    row: Any,
    reason: str,
    *,
    error: PermanentSendError | None = None,
    fallback: bool = True,
) -> list[str]:
    """→ failed; acts on what the provider said; returns the fallback notifications queued."""
    alive = await store.siblings_alive(conn, row)  # locks the cause's rows first, in id order
    await store.update(conn, row.id, status=NotificationStatus.FAILED.value, reason=reason)
    if error is not None:
        await _learn(conn, row, error)
    await _emit(conn, row, EventType.NOTIFICATION_FAILED, reason=reason)
    log.info("notification %s (%s) failed: %s", row.id, row.channel, reason)
    if not fallback or alive:
        return []
    return await plan_fallback(conn, row)


async def suppress(
    conn: AsyncConnection, row: Any, reason: Reason, *, fallback: bool = False
) -> list[str]:
    """queued → suppressed (never sent); an opted-out channel falls back to the next."""
    alive = await store.siblings_alive(conn, row) if fallback else True
    result = await conn.execute(
        notifications.update()
        .where(_N.id == row.id, _N.status == NotificationStatus.QUEUED.value)
        .values(status=NotificationStatus.SUPPRESSED.value, reason=reason.value)
        .values(updated_at=datetime.now(UTC), send_after=None)
    )
    log.info("notification %s (%s) suppressed: %s", row.id, row.channel, reason.value)
    if not result.rowcount or alive:
        return []
    return await plan_fallback(conn, row)


async def report(
    conn: AsyncConnection,
    row: Any,
    status: NotificationStatus,
    *,
    reason: str | None = None,
    provider_id: str | None = None,
    error: PermanentSendError | None = None,
) -> bool:
    """A provider's delivery report. False when it would move the row backwards.

    An undeliverable message falls back to the next channel like a rejected one.
    """
    current = NotificationStatus(row.status)
    if current is status or current not in _REPORT_FROM[status]:
        return False
    if current is NotificationStatus.FAILED and row.reason != Reason.OUTCOME_UNKNOWN.value:
        return False  # only a send we lost track of can turn out to have worked
    if status is NotificationStatus.FAILED:
        if provider_id and not row.provider_id:
            await store.update(conn, row.id, provider_id=provider_id)
        await mark_failed(conn, row, reason or "undelivered", error=error)
        return True
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status.value, "reason": None}
    if provider_id and not row.provider_id:
        values["provider_id"] = provider_id
    if status is NotificationStatus.DELIVERED:
        values["delivered_at"] = now
    if row.sent_at is None:
        values["sent_at"] = now
    await store.update(conn, row.id, **values)
    if current is not NotificationStatus.SENT:  # the job never recorded the send
        await _emit(conn, row, EventType.NOTIFICATION_SENT, provider_id=provider_id)
    return True


async def _learn(conn: AsyncConnection, row: Any, error: PermanentSendError) -> None:
    if error.unsubscribed and row.channel == ChannelKind.SMS.value and row.address:
        await store.opt_out(conn, row.tenant_id, row.address, "provider")
    if error.invalid_recipient and row.channel == ChannelKind.PUSH.value and row.address:
        await store.remove_push_token(conn, row.shipment_id, row.address)


async def _emit(conn: AsyncConnection, row: Any, event_type: EventType, **extra: Any) -> None:
    data = {
        "notification_id": row.id,
        "shipment_id": row.shipment_id,
        "channel": row.channel,
        "event": row.event,
        **extra,
    }
    await emit(conn, row.tenant_id, event_type.value, data, f"{event_type.value}:{row.id}")
