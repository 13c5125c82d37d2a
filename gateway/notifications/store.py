"""The notification log (one row per message, the "outbox" stores see) and SMS opt-outs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.notifications.rules import (
    LIVE_STATUSES,
    ChannelKind,
    NotificationStatus,
    Reason,
    TriggerEvent,
    address_hash,
)
from gateway.notifications.tables import notifications, sms_optouts
from gateway.platform.upsert import insert_ignore

N = notifications.c
_LIVE = [s.value for s in LIVE_STATUSES]


@dataclass(frozen=True, slots=True)
class NewNotification:
    id: str
    tenant_id: str
    shipment_id: str
    cause_id: str
    event: str
    channel: ChannelKind
    address: str | None
    fallback: tuple[ChannelKind, ...]
    facts: dict[str, Any]
    cause_at: datetime
    status: NotificationStatus = NotificationStatus.QUEUED
    reason: str | None = None
    send_after: datetime | None = None
    resend_of: str | None = None  # the notification a store re-sent on purpose


@dataclass(frozen=True, slots=True)
class Notification:
    """One row of the notification log: one message, to one address, on one channel."""

    id: str
    tenant_id: str
    shipment_id: str
    cause_id: str
    event: TriggerEvent
    channel: ChannelKind
    address: str | None  # phone, email or push token: needed to send; never logged
    fallback: tuple[ChannelKind, ...]  # channels still to try, in order
    facts: dict[str, Any]  # JSON: what the message says (status, eta, eta_at)
    template: str | None
    subject: str | None
    body: str | None
    html: str | None
    status: NotificationStatus
    reason: str | None  # a Reason, or a provider's error code as it came
    provider_id: str | None
    attempts: int
    cause_at: datetime
    send_after: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    lease_until: datetime | None = None  # while `sending`: the run that claimed it owns it
    resend_of: str | None = None  # a store's deliberate re-send of this notification


def notification_of(row: sa.RowMapping) -> Notification:
    """A `notifications` row (selected with every column) as a Notification."""
    return Notification(
        id=row["id"],
        tenant_id=row["tenant_id"],
        shipment_id=row["shipment_id"],
        cause_id=row["cause_id"],
        event=TriggerEvent(row["event"]),
        channel=ChannelKind(row["channel"]),
        address=row["address"],
        fallback=tuple(ChannelKind(c) for c in row["fallback"]),
        facts=dict(row["facts"]),
        template=row["template"],
        subject=row["subject"],
        body=row["body"],
        html=row["html"],
        status=NotificationStatus(row["status"]),
        reason=row["reason"],
        provider_id=row["provider_id"],
        attempts=row["attempts"],
        cause_at=row["cause_at"],
        send_after=row["send_after"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        lease_until=row["lease_until"],
        resend_of=row["resend_of"],
    )


# Built once per dialect: at fan-out rates statement construction is a visible CPU cost.
_INSERT: Final = {
    "postgresql": postgresql.insert(notifications).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(notifications).on_conflict_do_nothing(),
}
_CLAIM: Final = (
    notifications.update()
    .where(N.id == sa.bindparam("notification_id"), N.status == NotificationStatus.QUEUED.value)
    .values(
        status=NotificationStatus.SENDING.value,
        attempts=N.attempts + 1,
        reason=None,
        lease_until=sa.bindparam("lease_until"),
    )
)


async def insert(conn: AsyncConnection, note: NewNotification) -> bool:
    """False when the row already exists (a retried plan): then nothing more must be queued."""
    now = datetime.now(UTC)
    values = {
        "id": note.id,
        "tenant_id": note.tenant_id,
        "shipment_id": note.shipment_id,
        "cause_id": note.cause_id,
        "event": note.event,
        "channel": note.channel.value,
        "address": note.address,
        "address_hash": address_hash(note.address) if note.address else None,
        "fallback": [c.value for c in note.fallback],
        "facts": note.facts,
        "status": note.status.value,
        "reason": note.reason,
        "attempts": 0,
        "cause_at": note.cause_at,
        "send_after": note.send_after,
        "resend_of": note.resend_of,
        "created_at": now,
        "updated_at": now,
    }
    result = await conn.execute(_INSERT[conn.dialect.name], values)
    return bool(result.rowcount)


async def get(
    conn: AsyncConnection, notification_id: str, *, lock: bool = False
) -> Notification | None:
    query = sa.select(notifications).where(N.id == notification_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return notification_of(row) if row else None


async def _set(conn: AsyncConnection, notification_id: str, values: dict[str, object]) -> None:
    await conn.execute(
        notifications.update()
        .where(N.id == notification_id)
        .values(updated_at=datetime.now(UTC), **values)
    )


async def defer(
    conn: AsyncConnection, notification_id: str, until: datetime, reason: Reason
) -> None:
    """Keep the row queued until `until` (quiet hours), saying why."""
    await _set(conn, notification_id, {"send_after": until, "reason": reason.value})


async def set_provider_id(conn: AsyncConnection, notification_id: str, provider_id: str) -> None:
    await _set(conn, notification_id, {"provider_id": provider_id})


async def set_failed(conn: AsyncConnection, notification_id: str, reason: str) -> None:
    await _set(conn, notification_id, {"status": NotificationStatus.FAILED.value, "reason": reason})


async def set_reported(
    conn: AsyncConnection,
    note: Notification,
    status: NotificationStatus,
    provider_id: str | None,
    now: datetime,
) -> None:
    """A provider's report moved the row to sent or delivered (keeps a known provider id)."""
    values: dict[str, object] = {"status": status.value, "reason": None}
    if provider_id and not note.provider_id:
        values["provider_id"] = provider_id
    if status is NotificationStatus.DELIVERED:
        values["delivered_at"] = now
    if note.sent_at is None:
        values["sent_at"] = now
    await _set(conn, note.id, values)


async def mark_sent(conn: AsyncConnection, notification_id: str, provider_id: str) -> bool:
    """sending → sent; False when a delivery report already moved the row on."""
    now = datetime.now(UTC)
    result = await conn.execute(
        notifications.update()
        .where(N.id == notification_id, N.status == NotificationStatus.SENDING.value)
        .values(status=NotificationStatus.SENT.value, provider_id=provider_id, sent_at=now)
        .values(updated_at=now, reason=None)
    )
    return bool(result.rowcount)


async def suppress(conn: AsyncConnection, notification_id: str, reason: Reason) -> bool:
    """queued → suppressed; False when the row was no longer queued."""
    result = await conn.execute(
        notifications.update()
        .where(N.id == notification_id, N.status == NotificationStatus.QUEUED.value)
        .values(status=NotificationStatus.SUPPRESSED.value, reason=reason.value)
        .values(updated_at=datetime.now(UTC), send_after=None)
    )
    return bool(result.rowcount)


async def claim(
    conn: AsyncConnection,
    notification_id: str,
    rendered: dict[str, str | None],
    lease_until: datetime,
) -> bool:
    """queued → sending until `lease_until`, with the rendered message; False if another run
    got there first."""
    params = {
        "notification_id": notification_id,
        "updated_at": datetime.now(UTC),
        "lease_until": lease_until,
        **rendered,
    }
    result = await conn.execute(_CLAIM, params)
    return bool(result.rowcount)


async def release(
    conn: AsyncConnection, notification_id: str, reason: str, retry_at: datetime
) -> None:
    """sending → queued after a retryable failure (the attempt is counted); the next attempt's
    time is kept in `send_after`, so the schedule survives the loss of the deferred job."""
    await conn.execute(
        notifications.update()
        .where(N.id == notification_id, N.status == NotificationStatus.SENDING.value)
        .values(
            status=NotificationStatus.QUEUED.value,
            reason=reason,
            send_after=retry_at,
            lease_until=None,
            updated_at=datetime.now(UTC),
        )
    )


async def newer_exists(conn: AsyncConnection, row: Notification) -> bool:
    """Is there fresher news for this shipment on this channel that is (or will be) sent?"""
    query = sa.select(N.id).where(
        N.shipment_id == row.shipment_id,
        N.channel == row.channel.value,
        N.cause_at > row.cause_at,
        N.status.in_(_LIVE),
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def siblings_alive(conn: AsyncConnection, row: Notification) -> bool:
    """Does another message of the same cause and channel still stand (e.g. a second device)?

    Locks the siblings first so two failing devices cannot both decide the other is alive.
    """
    query = (
        sa.select(N.id, N.status)
        .where(N.cause_id == row.cause_id, N.channel == row.channel.value, N.id != row.id)
        .order_by(N.id)
        .with_for_update()
    )
    return any(r.status in _LIVE for r in (await conn.execute(query)).all())


async def list_for_shipment(
    conn: AsyncConnection, tenant_id: str, shipment_id: str
) -> list[Notification]:
    query = (
        sa.select(notifications)
        .where(N.tenant_id == tenant_id, N.shipment_id == shipment_id)
        .order_by(N.created_at, N.id)
    )
    return [notification_of(row) for row in (await conn.execute(query)).mappings()]


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What `GET /v1/notifications` asks for; at least a shipment, a status or a reason."""

    shipment_id: str | None = None
    statuses: tuple[NotificationStatus, ...] = ()
    reason: str | None = None
    limit: int = 100


async def list_log(conn: AsyncConnection, tenant_id: str, wanted: LogFilter) -> list[Notification]:
    """A shipment's notifications in order, else the store's newest first (limited)."""
    query = sa.select(notifications).where(N.tenant_id == tenant_id)
    if wanted.shipment_id is not None:
        query = query.where(N.shipment_id == wanted.shipment_id).order_by(N.created_at, N.id)
    else:
        query = query.order_by(N.created_at.desc(), N.id.desc()).limit(wanted.limit)
    if wanted.statuses:
        query = query.where(N.status.in_([s.value for s in wanted.statuses]))
    if wanted.reason is not None:  # outcome_unknown: ix_notifications_outcome_unknown
        query = query.where(N.reason == wanted.reason)
    return [notification_of(row) for row in (await conn.execute(query)).mappings().all()]


async def count_outcome_unknown(conn: AsyncConnection) -> dict[str, int]:
    """Notifications whose send may or may not have happened, by channel (a partial index)."""
    query = (
        sa.select(N.channel, sa.func.count())
        .where(N.reason == Reason.OUTCOME_UNKNOWN.value)
        .group_by(N.channel)
    )
    return {channel: int(count) for channel, count in (await conn.execute(query)).all()}


async def find_by_provider_id(conn: AsyncConnection, provider_id: str) -> Notification | None:
    query = sa.select(notifications).where(N.provider_id == provider_id).with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return notification_of(row) if row else None


@dataclass(frozen=True, slots=True)
class LastSMS:
    tenant_id: str
    shipment_id: str
    event: str


async def newest_sms_to(conn: AsyncConnection, phone: str) -> LastSMS | None:
    """The newest SMS we sent to `phone`: which store and shipment a reply is about."""
    query = (
        sa.select(N.tenant_id, N.shipment_id, N.event)
        .where(
            N.address_hash == address_hash(phone),
            N.channel == ChannelKind.SMS.value,
            N.sent_at.is_not(None),
        )
        .order_by(N.sent_at.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return LastSMS(row.tenant_id, row.shipment_id, row.event) if row else None


async def opt_out(conn: AsyncConnection, tenant_id: str, phone: str, source: str) -> None:
    await conn.execute(
        insert_ignore(
            sms_optouts,
            conn.dialect.name,
            tenant_id=tenant_id,
            phone_hash=address_hash(phone),
            source=source,
            created_at=datetime.now(UTC),
        )
    )


async def opt_in(conn: AsyncConnection, tenant_id: str, phone: str) -> None:
    await conn.execute(
        sms_optouts.delete().where(
            sms_optouts.c.tenant_id == tenant_id,
            sms_optouts.c.phone_hash == address_hash(phone),
        )
    )


async def is_opted_out(conn: AsyncConnection, tenant_id: str, phone: str | None) -> bool:
    if not phone:
        return False
    query = sa.select(sms_optouts.c.source).where(
        sms_optouts.c.tenant_id == tenant_id, sms_optouts.c.phone_hash == address_hash(phone)
    )
    return (await conn.execute(query)).first() is not None


async def due_for_send(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[str]:
    """Ids of notifications owed a send job (the reconciler's query, on ix_notifications_due).

    `queued` ones whose wait (collapse window, quiet hours, retry back-off) ended before
    `due_before`, and `sending` ones whose lease ran out: their run died during the provider call.
    """
    queued = (
        sa.select(N.id)
        .where(
            N.status == NotificationStatus.QUEUED.value,
            sa.or_(
                N.send_after <= due_before,
                sa.and_(N.send_after.is_(None), N.updated_at <= due_before),
            ),
        )
        .order_by(N.send_after)
        .limit(limit)
    )
    lost = (
        sa.select(N.id)
        .where(
            N.status == NotificationStatus.SENDING.value,
            sa.or_(N.lease_until.is_(None), N.lease_until <= now),
        )
        .limit(limit)
    )
    ids = list((await conn.execute(lost)).scalars())
    ids += (await conn.execute(queued)).scalars()
    return ids[:limit]
