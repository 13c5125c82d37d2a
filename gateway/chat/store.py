"""Chat messages and drivers' relay settings: the only SQL of the chat area."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.rules import Relay, RelayStatus, Sender, Via
from gateway.chat.tables import chat_driver_settings, chat_messages
from gateway.platform.ids import new_id
from gateway.platform.upsert import insert_ignore

M = chat_messages.c


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    id: str
    tenant_id: str
    shipment_id: str
    driver_id: str | None
    sender: Sender
    via: Via
    text: str
    relay: Relay
    relay_status: RelayStatus
    relay_reason: str | None
    provider_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    tenant_id: str
    shipment_id: str
    driver_id: str | None
    sender: Sender
    via: Via
    text: str
    relay: Relay


def _message(row: Any) -> Message:
    return Message(
        seq=row.seq,
        id=row.id,
        tenant_id=row.tenant_id,
        shipment_id=row.shipment_id,
        driver_id=row.driver_id,
        sender=Sender(row.sender),
        via=Via(row.via),
        text=row.text,
        relay=Relay(row.relay),
        relay_status=RelayStatus(row.relay_status),
        relay_reason=row.relay_reason,
        provider_id=row.provider_id,
        created_at=row.created_at,
    )


async def insert(conn: AsyncConnection, new: NewMessage, now: datetime) -> Message:
    """Store a message; its relay SMS (if any) starts `queued`."""
    status = RelayStatus.QUEUED if new.relay is Relay.SMS else RelayStatus.NONE
    message_id = new_id("msg")
    await conn.execute(
        chat_messages.insert().values(
            id=message_id,
            tenant_id=new.tenant_id,
            shipment_id=new.shipment_id,
            driver_id=new.driver_id,
            sender=new.sender.value,
            via=new.via.value,
            text=new.text,
            relay=new.relay.value,
            relay_status=status.value,
            created_at=now,
            updated_at=now,
        )
    )
    found = await get(conn, message_id)
    assert found is not None  # noqa: S101 - just inserted in this transaction
    return found


async def get(conn: AsyncConnection, message_id: str, *, lock: bool = False) -> Message | None:
    query = sa.select(chat_messages).where(M.id == message_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _message(row) if row else None


async def thread(conn: AsyncConnection, shipment_id: str, *, limit: int = 200) -> list[Message]:
    """The newest `limit` messages of the shipment's thread, oldest first."""
    query = (
        sa.select(chat_messages)
        .where(M.shipment_id == shipment_id)
        .order_by(M.seq.desc())
        .limit(limit)
    )
    return [_message(row) for row in reversed((await conn.execute(query)).all())]


async def threads_after(
    conn: AsyncConnection, shipment_ids: Sequence[str], after_seq: int, *, limit: int = 500
) -> list[Message]:
    """Messages of these shipments' threads newer than `after_seq`, oldest first."""
    if not shipment_ids:
        return []
    query = (
        sa.select(chat_messages)
        .where(M.shipment_id.in_(list(shipment_ids)), M.seq > after_seq)
        .order_by(M.seq)
        .limit(limit)
    )
    return [_message(row) for row in (await conn.execute(query)).all()]


async def sent_since(
    conn: AsyncConnection, shipment_id: str, sender: Sender, since: datetime
) -> list[datetime]:
    """When this side of the conversation wrote since `since` (for the rate limit)."""
    query = sa.select(M.created_at).where(
        M.shipment_id == shipment_id, M.sender == sender.value, M.created_at > since
    )
    return [row.created_at for row in (await conn.execute(query)).all()]


async def last_customer_via(conn: AsyncConnection, shipment_id: str) -> Via | None:
    query = (
        sa.select(M.via)
        .where(M.shipment_id == shipment_id, M.sender == Sender.CUSTOMER.value)
        .order_by(M.seq.desc())
        .limit(1)
    )
    via = (await conn.execute(query)).scalar_one_or_none()
    return Via(via) if via else None


async def newest_customer_message_at(
    conn: AsyncConnection, shipment_ids: Sequence[str]
) -> dict[str, datetime]:
    """{shipment id: when its customer last wrote}, for those that ever did."""
    if not shipment_ids:
        return {}
    query = (
        sa.select(M.shipment_id, sa.func.max(M.created_at).label("at"))
        .where(M.shipment_id.in_(list(shipment_ids)), M.sender == Sender.CUSTOMER.value)
        .group_by(M.shipment_id)
    )
    return {row.shipment_id: row.at for row in (await conn.execute(query)).all()}


async def set_relay_status(
    conn: AsyncConnection,
    message_id: str,
    status: RelayStatus,
    now: datetime,
    *,
    reason: str | None = None,
    provider_id: str | None = None,
) -> None:
    values: dict[str, Any] = {"relay_status": status.value, "updated_at": now}
    if reason is not None:
        values["relay_reason"] = reason
    if provider_id is not None:
        values["provider_id"] = provider_id
    await conn.execute(chat_messages.update().where(M.id == message_id).values(**values))


async def relay_due(
    conn: AsyncConnection, due_before: datetime, stale_before: datetime, limit: int
) -> list[str]:
    """Messages whose relay SMS is owed: queued before `due_before`, or `sending` since before
    `stale_before` (its worker is gone), oldest first."""
    query = (
        sa.select(M.id)
        .where(
            sa.or_(
                sa.and_(M.relay_status == RelayStatus.QUEUED.value, M.updated_at < due_before),
                sa.and_(M.relay_status == RelayStatus.SENDING.value, M.updated_at < stale_before),
            )
        )
        .order_by(M.updated_at)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def driver_wants_sms(conn: AsyncConnection, driver_id: str) -> bool:
    query = sa.select(chat_driver_settings.c.sms).where(
        chat_driver_settings.c.driver_id == driver_id
    )
    return bool((await conn.execute(query)).scalar_one_or_none())


async def set_driver_sms(
    conn: AsyncConnection, tenant_id: str, driver_id: str, sms: bool, now: datetime
) -> None:
    inserted = await conn.execute(
        insert_ignore(
            chat_driver_settings,
            conn.dialect.name,
            driver_id=driver_id,
            tenant_id=tenant_id,
            sms=sms,
            updated_at=now,
        )
    )
    if inserted.rowcount != 1:
        await conn.execute(
            chat_driver_settings.update()
            .where(chat_driver_settings.c.driver_id == driver_id)
            .values(sms=sms, updated_at=now)
        )
