"""Planning: which notifications a shipment's news causes, written as rows plus outbox jobs.

Runs inside the caller's transaction (the `shipment_changed` job for status and ETA changes; the
dispatcher areas call `plan_event` for `arriving` and `late`). Every row's id derives from
(cause, channel, address), so planning the same cause twice queues nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.notifications import store
from gateway.notifications import store_config as config
from gateway.notifications import store_reads as reads
from gateway.notifications.rules import (
    DEFAULT_RULES,
    ChannelKind,
    NotificationStatus,
    Plan,
    Reason,
    Rule,
    Target,
    TriggerEvent,
    burst_send_after,
    matching,
    notification_id,
    plan,
    triggers_for_change,
)
from gateway.notifications.store import Notification
from gateway.platform.names import Job
from gateway.platform.outbox import add_job

log = logging.getLogger(__name__)

# When a planned message on a channel may go out (None: at once).
SendAfter = Callable[[ChannelKind], datetime | None]


def _at_once(_: ChannelKind) -> datetime | None:
    return None


def send_job_id(notification_id: str) -> str:
    return f"{Job.SEND_NOTIFICATION}:{notification_id}"


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something a customer may hear about. `facts` is JSON: status, eta, eta_at (ISO)."""

    cause_id: str  # unique per piece of news, e.g. a shipment_changes id
    tenant_id: str
    shipment_id: str
    event: TriggerEvent
    cause_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)


async def on_shipment_change(conn: AsyncConnection, change: ShipmentChange) -> None:
    """CHANGE_HANDLERS entry: a new status (or a moved ETA) notifies per the tenant's rules."""
    events = triggers_for_change(change.status_before, change.status_after, change.eta_changed)
    for event in events:
        facts = {
            "status": change.status_after.value,
            "eta": change.eta_after.isoformat() if change.eta_after else None,
        }
        trigger = Trigger(
            change.id, change.tenant_id, change.shipment_id, event, change.created_at, facts
        )
        await plan_event(conn, trigger)
        if event is TriggerEvent.DELIVERED:
            await _email_proof(conn, change, trigger)


async def _email_proof(conn: AsyncConnection, change: ShipmentChange, trigger: Trigger) -> None:
    """The delivered email with its proof, even when the rule told the customer by SMS or push.

    Same cause, channel and address as the rule's own email would have: when the rule (or its
    fallback) emails anyway, the ids collide and one email goes out.
    """
    view = await reads.load_for_plan(conn, trigger.tenant_id, trigger.shipment_id)
    email, chosen = view.recipient.email, view.recipient.channels
    if not (view.settings.email_proof_of_delivery and email):
        return
    if chosen is not None and ChannelKind.EMAIL not in chosen:
        return  # the customer asked not to be emailed
    if not await reads.event_has_proof(conn, change.shipment_id, change.event_identity):
        return
    send_after = await _burst_timing(conn, trigger.shipment_id, view.settings.collapse_window_s)
    await _write(conn, trigger, Plan((Target(ChannelKind.EMAIL, email),)), send_after)


async def _burst_timing(conn: AsyncConnection, shipment_id: str, window_s: int) -> SendAfter:
    """Leading-edge bursts: news goes out at once unless the shipment's channel heard from us
    within the window (or a burst is already waiting to close): then it waits for the close."""
    if not window_s:
        return _at_once
    await reads.lock_shipment(conn, shipment_id)
    now, window = datetime.now(UTC), timedelta(seconds=window_s)
    recent = await reads.recent_sends(conn, shipment_id, now - window)
    if not recent:
        return _at_once
    return lambda channel: burst_send_after(now, window, channel, recent)


async def plan_event(conn: AsyncConnection, trigger: Trigger) -> list[str]:
    """Write the notifications `trigger` causes; returns the ids of newly queued ones."""
    rules = [stored.rule for stored in await config.cached_rules(conn, trigger.tenant_id)]
    matched = matching(rules or DEFAULT_RULES, trigger.event)
    if not matched:
        return []
    view = await reads.load_for_plan(conn, trigger.tenant_id, trigger.shipment_id)
    blocked = {ChannelKind.SMS} if view.sms_opted_out else set()
    send_after = await _burst_timing(conn, trigger.shipment_id, view.settings.collapse_window_s)
    queued: list[str] = []
    for rule in matched:
        queued += await _write(conn, trigger, plan(rule, view.recipient, blocked), send_after)
    return queued


async def _write(
    conn: AsyncConnection, trigger: Trigger, planned: Plan, timing: SendAfter
) -> list[str]:
    queued = []
    for target in planned.targets:
        send_after = timing(target.channel) if planned.suppressed is None else None
        status, reason = NotificationStatus.QUEUED, Reason.COLLAPSE_WINDOW if send_after else None
        if planned.suppressed is not None:
            status, reason = NotificationStatus.SUPPRESSED, planned.suppressed
        nid = notification_id(trigger.cause_id, target.channel, target.address)
        new = store.NewNotification(
            id=nid,
            tenant_id=trigger.tenant_id,
            shipment_id=trigger.shipment_id,
            cause_id=trigger.cause_id,
            event=trigger.event.value,
            channel=target.channel,
            address=target.address,
            fallback=planned.fallback,
            facts=trigger.facts,
            cause_at=trigger.cause_at,
            status=status,
            reason=reason.value if reason else None,
            send_after=send_after,
        )
        if await store.insert(conn, new) and status is NotificationStatus.QUEUED:
            await add_job(conn, Job.SEND_NOTIFICATION, send_job_id(nid), nid)
            queued.append(nid)
    if planned.suppressed is not None:
        log.info("%s for %s suppressed: %s", trigger.event.value, trigger.shipment_id, reason)
    return queued


async def plan_fallback(conn: AsyncConnection, failed: Notification) -> list[str]:
    """After `failed` (a row) failed for good: the next reachable channel in its order, if any.

    Returns the ids queued. Call it in the transaction that marks the row failed.
    """
    order = list(failed.fallback)
    if not order:
        return []
    view = await reads.load_for_plan(conn, failed.tenant_id, failed.shipment_id)
    blocked = {ChannelKind.SMS} if view.sms_opted_out else set()
    rule = Rule(id="fallback", name="fallback", events=frozenset(), channels=tuple(order))
    planned = plan(rule, view.recipient, blocked)
    if planned.suppressed is not None:
        log.info("no fallback channel left for %s", failed.id)
        return []
    trigger = Trigger(
        failed.cause_id,
        failed.tenant_id,
        failed.shipment_id,
        failed.event,
        failed.cause_at,
        dict(failed.facts),
    )
    return await _write(conn, trigger, planned, _at_once)


async def plan_resend(conn: AsyncConnection, original: Any) -> tuple[str, bool]:
    """A store's deliberate re-send of a failed notification: a new queued row and its job.

    Returns (new id, created). The id derives from the original, so a repeated request queues
    nothing new. The copy goes through the usual checks when it is sent (opt-out, quiet hours,
    and fresher news for the shipment, which supersedes it); it has no fallback channel.
    """
    cause_id = f"resend:{original.id}"
    nid = notification_id(cause_id, ChannelKind(original.channel), original.address)
    new = store.NewNotification(
        id=nid,
        tenant_id=original.tenant_id,
        shipment_id=original.shipment_id,
        cause_id=cause_id,
        event=original.event,
        channel=ChannelKind(original.channel),
        address=original.address,
        fallback=(),
        facts=dict(original.facts),
        cause_at=original.cause_at,
        resend_of=original.id,
    )
    created = await store.insert(conn, new)
    if created:
        await add_job(conn, Job.SEND_NOTIFICATION, send_job_id(nid), nid)
    return nid, created
