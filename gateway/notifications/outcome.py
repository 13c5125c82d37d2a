"""Recording what became of a notification: sent, failed (then fall back), suppressed.

Used by the send job and by the provider callbacks, always inside the caller's transaction, and
each writes the store webhook (`notification.sent` / `notification.failed`) in that transaction
with an idempotency key derived from the notification, so it is emitted once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import PermanentSendError
from gateway.notifications import store
from gateway.notifications.plan import plan_fallback
from gateway.notifications.rules import ChannelKind, NotificationStatus, Reason
from gateway.notifications.store import Notification
from gateway.shipments import store as shipments
from gateway.store_webhooks.events import EventType, emit

log = logging.getLogger(__name__)

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


async def mark_sent(conn: AsyncConnection, row: Notification, provider_id: str) -> None:
    """sending → sent. A delivery report may already have moved it further: keep that."""
    if not await store.mark_sent(conn, row.id, provider_id):
        # A delivery report got here first and said what happened.
        await store.set_provider_id(conn, row.id, provider_id)
        return
    await _emit(conn, row, EventType.NOTIFICATION_SENT, provider_id=provider_id)


async def mark_failed(
    conn: AsyncConnection,
    row: Notification,
    reason: str,
    *,
    error: PermanentSendError | None = None,
    fallback: bool = True,
) -> list[str]:
    """→ failed; acts on what the provider said; returns the fallback notifications queued."""
    alive = await store.siblings_alive(conn, row)  # locks the cause's rows first, in id order
    await store.set_failed(conn, row.id, reason)
    if error is not None:
        await _learn(conn, row, error)
    await _emit(conn, row, EventType.NOTIFICATION_FAILED, reason=reason)
    log.info("notification %s (%s) failed: %s", row.id, row.channel.value, reason)
    if not fallback or alive:
        return []
    return await plan_fallback(conn, row)


async def suppress(
    conn: AsyncConnection, row: Notification, reason: Reason, *, fallback: bool = False
) -> list[str]:
    """queued → suppressed (never sent); an opted-out channel falls back to the next."""
    alive = await store.siblings_alive(conn, row) if fallback else True
    suppressed = await store.suppress(conn, row.id, reason)
    log.info("notification %s (%s) suppressed: %s", row.id, row.channel.value, reason.value)
    if not suppressed or alive:
        return []
    return await plan_fallback(conn, row)


async def report(
    conn: AsyncConnection,
    row: Notification,
    status: NotificationStatus,
    *,
    reason: str | None = None,
    provider_id: str | None = None,
    error: PermanentSendError | None = None,
) -> bool:
    """A provider's delivery report. False when it would move the row backwards.

    An undeliverable message falls back to the next channel like a rejected one.
    """
    current = row.status
    if current is status or current not in _REPORT_FROM[status]:
        return False
    if current is NotificationStatus.FAILED and row.reason != Reason.OUTCOME_UNKNOWN.value:
        return False  # only a send we lost track of can turn out to have worked
    if status is NotificationStatus.FAILED:
        if provider_id and not row.provider_id:
            await store.set_provider_id(conn, row.id, provider_id)
        await mark_failed(conn, row, reason or "undelivered", error=error)
        return True
    await store.set_reported(conn, row, status, provider_id, datetime.now(UTC))
    if current is not NotificationStatus.SENT:  # the job never recorded the send
        await _emit(conn, row, EventType.NOTIFICATION_SENT, provider_id=provider_id)
    return True


async def _learn(conn: AsyncConnection, row: Notification, error: PermanentSendError) -> None:
    if error.unsubscribed and row.channel is ChannelKind.SMS and row.address:
        await store.opt_out(conn, row.tenant_id, row.address, "provider")
    if error.invalid_recipient and row.channel is ChannelKind.PUSH and row.address:
        await shipments.remove_push_token(conn, row.shipment_id, row.address)


async def _emit(
    conn: AsyncConnection, row: Notification, event_type: EventType, **extra: str | None
) -> None:
    data: dict[str, str | None] = {
        "notification_id": row.id,
        "shipment_id": row.shipment_id,
        "channel": row.channel.value,
        "event": row.event.value,
        **extra,
    }
    await emit(conn, row.tenant_id, event_type.value, data, f"{event_type.value}:{row.id}")
