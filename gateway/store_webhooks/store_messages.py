"""Store webhook messages: recording, the per-lane delivery queue, attempts, replay, purge."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.tenant_cache import TenantCache
from gateway.platform.upsert import insert_ignore
from gateway.store_webhooks.tables import webhook_attempts, webhook_endpoints, webhook_messages


class MessageStatus(StrEnum):
    PENDING = "pending"  # owed: waiting for its (next) attempt
    DELIVERED = "delivered"  # a 2xx came back
    FAILED = "failed"  # every retry failed
    MISSED = "missed"  # the endpoint was disabled: kept for replay


@dataclass(frozen=True, slots=True)
class SubscribedEndpoint:
    id: str
    enabled: bool
    include_pii: bool


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    endpoint_id: str
    tenant_id: str
    event_type: str
    lane: str
    body: str
    pending: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    id: str
    endpoint_id: str
    lane: str
    body: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    endpoint_id: str
    message_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None
    next_retry_at: datetime | None


# A store's endpoints as events fan out: (id, enabled, include_pii, event types), oldest first.
_Subscription = tuple[str, bool, bool, frozenset[str]]
ENDPOINTS: Final = TenantCache[list[_Subscription]]("webhook_endpoints")


async def subscribed_endpoints(
    conn: AsyncConnection, tenant_id: str, event_type: str
) -> list[SubscribedEndpoint]:
    """From this process's copy when fresh: most stores have none, and every event asks."""
    rows = await ENDPOINTS.get(tenant_id, lambda: _subscriptions(conn, tenant_id))
    return [
        SubscribedEndpoint(endpoint_id, enabled, include_pii)
        for endpoint_id, enabled, include_pii, types in rows
        if event_type in types
    ]


async def _subscriptions(conn: AsyncConnection, tenant_id: str) -> list[_Subscription]:
    query = sa.select(
        webhook_endpoints.c.id,
        webhook_endpoints.c.enabled,
        webhook_endpoints.c.include_pii,
        webhook_endpoints.c.event_types,
    ).where(webhook_endpoints.c.tenant_id == tenant_id)
    rows = (await conn.execute(query.order_by(webhook_endpoints.c.created_at))).all()
    return [
        (row.id, bool(row.enabled), bool(row.include_pii), frozenset(row.event_types))
        for row in rows
    ]


async def insert_message(conn: AsyncConnection, message: NewMessage) -> None:
    """Insert once: the same id a second time (a retried caller) changes nothing."""
    status = MessageStatus.PENDING if message.pending else MessageStatus.MISSED
    await conn.execute(
        insert_ignore(
            webhook_messages,
            conn.dialect.name,
            id=message.id,
            endpoint_id=message.endpoint_id,
            tenant_id=message.tenant_id,
            event_type=message.event_type,
            lane=message.lane,
            body=message.body,
            status=status.value,
            attempts=0,
            next_attempt_at=message.created_at if message.pending else None,
            created_at=message.created_at,
        )
    )


def _message(row: sa.RowMapping) -> Message:
    return Message(
        seq=row["seq"],
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        lane=row["lane"],
        body=row["body"],
        status=MessageStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        created_at=row["created_at"],
    )


def _attempt(row: sa.RowMapping) -> Attempt:
    return Attempt(
        endpoint_id=row["endpoint_id"],
        message_id=row["message_id"],
        attempted_at=row["attempted_at"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        response_body=row["response_body"],
        error=row["error"],
        next_retry_at=row["next_retry_at"],
    )


async def get_message(conn: AsyncConnection, message_id: str) -> Message | None:
    row = (
        (await conn.execute(sa.select(webhook_messages).where(webhook_messages.c.id == message_id)))
        .mappings()
        .first()
    )
    return _message(row) if row else None


async def lane_head(conn: AsyncConnection, endpoint_id: str, lane: str) -> Message | None:
    """The oldest message of the lane still owed: nothing newer may go before it."""
    query = (
        sa.select(webhook_messages)
        .where(
            webhook_messages.c.endpoint_id == endpoint_id,
            webhook_messages.c.lane == lane,
            webhook_messages.c.status == MessageStatus.PENDING.value,
        )
        .order_by(webhook_messages.c.seq)
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return _message(row) if row else None


async def take_lease(
    conn: AsyncConnection, message: Message, now: datetime, lease_s: float
) -> bool:
    """Claim the message for one attempt; False when another worker holds it."""
    result = await conn.execute(
        webhook_messages.update()
        .where(
            webhook_messages.c.id == message.id,
            webhook_messages.c.status == MessageStatus.PENDING.value,
            webhook_messages.c.attempts == message.attempts,
            sa.or_(webhook_messages.c.lease_until.is_(None), webhook_messages.c.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=lease_s))
    )
    return bool(result.rowcount)


async def finish_attempt(
    conn: AsyncConnection, message: Message, attempt: Attempt, status: MessageStatus
) -> None:
    """Record the attempt and the message's new state, releasing the lease."""
    await conn.execute(webhook_attempts.insert().values(**dataclasses.asdict(attempt)))
    values: dict[str, Any] = {
        "status": status.value,
        "attempts": message.attempts + 1,
        "lease_until": None,
        "next_attempt_at": attempt.next_retry_at,
    }
    if status is MessageStatus.DELIVERED:
        values["delivered_at"] = attempt.attempted_at
    await conn.execute(
        webhook_messages.update().where(webhook_messages.c.id == message.id).values(**values)
    )


async def mark_endpoint_missed(conn: AsyncConnection, endpoint_id: str) -> int:
    """Every message still owed to a disabled endpoint becomes `missed` (kept for replay)."""
    result = await conn.execute(
        webhook_messages.update()
        .where(
            webhook_messages.c.endpoint_id == endpoint_id,
            webhook_messages.c.status == MessageStatus.PENDING.value,
        )
        .values(status=MessageStatus.MISSED.value, next_attempt_at=None, lease_until=None)
    )
    return int(result.rowcount or 0)


async def replay(
    conn: AsyncConnection, endpoint_id: str, since: datetime, now: datetime
) -> list[str]:
    """Make every undelivered message created at or after `since` owed again; returns their ids."""
    where = (
        webhook_messages.c.endpoint_id == endpoint_id,
        webhook_messages.c.created_at >= since,
        webhook_messages.c.status.in_([MessageStatus.FAILED.value, MessageStatus.MISSED.value]),
    )
    query = sa.select(webhook_messages.c.id).where(*where).order_by(webhook_messages.c.seq)
    ids = list((await conn.execute(query)).scalars().all())
    if ids:
        await conn.execute(
            webhook_messages.update()
            .where(webhook_messages.c.id.in_(ids))
            .values(
                status=MessageStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                lease_until=None,
            )
        )
    return ids


async def overdue(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[Message]:
    """Lane heads due before `due_before` that no send holds: their job may be lost."""
    older = webhook_messages.alias("older")
    blocked = sa.exists().where(
        older.c.endpoint_id == webhook_messages.c.endpoint_id,
        older.c.lane == webhook_messages.c.lane,
        older.c.status == MessageStatus.PENDING.value,
        older.c.seq < webhook_messages.c.seq,
    )
    query = (
        sa.select(webhook_messages)
        .where(
            webhook_messages.c.status == MessageStatus.PENDING.value,
            webhook_messages.c.next_attempt_at < due_before,
            sa.or_(webhook_messages.c.lease_until.is_(None), webhook_messages.c.lease_until < now),
            ~blocked,
        )
        .order_by(webhook_messages.c.next_attempt_at)
        .limit(limit)
    )
    return [_message(row) for row in (await conn.execute(query)).mappings()]


async def list_attempts(
    conn: AsyncConnection, endpoint_id: str, *, limit: int, message_id: str | None = None
) -> list[Attempt]:
    """The endpoint's attempts, newest first."""
    query = sa.select(webhook_attempts).where(webhook_attempts.c.endpoint_id == endpoint_id)
    if message_id is not None:
        query = query.where(webhook_attempts.c.message_id == message_id)
    query = query.order_by(webhook_attempts.c.id.desc()).limit(limit)
    return [_attempt(row) for row in (await conn.execute(query)).mappings()]


async def purge(conn: AsyncConnection, before: datetime) -> int:
    """Drop messages (and their attempts) created before `before`; returns messages dropped."""
    old = sa.select(webhook_messages.c.id).where(webhook_messages.c.created_at < before)
    await conn.execute(webhook_attempts.delete().where(webhook_attempts.c.message_id.in_(old)))
    result = await conn.execute(
        webhook_messages.delete().where(webhook_messages.c.created_at < before)
    )
    return int(result.rowcount or 0)
