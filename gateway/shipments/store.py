"""Shipment reads and store registration: the SQL for `shipments`, `events` and their changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.domain.events import CanonicalEvent, Location, Status
from gateway.platform.ids import new_id
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import events, shipment_changes, shipments


class ShipmentExists(Exception):
    """The store already registered this tracking number for this carrier."""


@dataclass(frozen=True, slots=True)
class Shipment:
    """One shipment as stored: what the store registered and what carrier events made of it."""

    id: str
    tenant_id: str
    carrier: str
    tracking_number: str
    order_id: str | None
    recipient: dict[str, Any]  # JSON as registered ({} until the store registers it)
    destination: dict[str, Any] | None
    promised_by: datetime | None
    registered: bool  # the store registered it (not only carrier events)
    status: Status
    status_at: datetime | None
    estimated_delivery: date | None
    created_at: datetime
    updated_at: datetime


def _shipment(row: sa.RowMapping) -> Shipment:
    return Shipment(
        id=row["id"],
        tenant_id=row["tenant_id"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        order_id=row["order_id"],
        recipient=dict(row["recipient"] or {}),
        destination=row["destination"],
        promised_by=row["promised_by"],
        registered=bool(row["registered"]),
        status=Status(row["status"]),
        status_at=row["status_at"],
        estimated_delivery=row["estimated_delivery"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True, slots=True)
class Registration:
    tracking_number: str
    carrier: str
    order_id: str | None
    recipient: dict[str, Any]
    destination: dict[str, Any] | None
    promised_by: datetime | None


async def register(conn: AsyncConnection, tenant_id: str, reg: Registration) -> str:
    """Create the shipment, or claim the one that carrier events already created.

    Raises ShipmentExists when the store registered it before.
    """
    now = datetime.now(UTC)
    details = {
        "order_id": reg.order_id,
        "recipient": reg.recipient,
        "destination": reg.destination,
        "promised_by": reg.promised_by,
        "registered": True,
        "updated_at": now,
    }
    await conn.execute(
        insert_ignore(
            shipments,
            conn.dialect.name,
            id=new_id("shp"),
            tenant_id=tenant_id,
            carrier=reg.carrier,
            tracking_number=reg.tracking_number,
            status=Status.UNKNOWN.value,
            created_at=now,
            **{**details, "registered": False},
        )
    )
    claimed = await conn.execute(
        shipments.update()
        .where(
            shipments.c.tenant_id == tenant_id,
            shipments.c.carrier == reg.carrier,
            shipments.c.tracking_number == reg.tracking_number,
            shipments.c.registered.is_(False),
        )
        .values(**details)
        .returning(shipments.c.id)
    )
    shipment_id = claimed.scalar_one_or_none()
    if shipment_id is None:
        raise ShipmentExists(reg.tracking_number)
    return str(shipment_id)


async def get(conn: AsyncConnection, tenant_id: str, shipment_id: str) -> Shipment | None:
    """The tenant's shipment; None for an unknown id or another tenant's."""
    query = sa.select(shipments).where(
        shipments.c.id == shipment_id, shipments.c.tenant_id == tenant_id
    )
    row = (await conn.execute(query)).mappings().first()
    return _shipment(row) if row else None


async def get_by_id(conn: AsyncConnection, shipment_id: str) -> Shipment | None:
    """For jobs, whose shipment id came from the tenant's own data."""
    row = (
        (await conn.execute(sa.select(shipments).where(shipments.c.id == shipment_id)))
        .mappings()
        .first()
    )
    return _shipment(row) if row else None


async def find(
    conn: AsyncConnection, tenant_id: str, tracking_number: str, carrier: str | None
) -> list[Shipment]:
    query = sa.select(shipments).where(
        shipments.c.tenant_id == tenant_id, shipments.c.tracking_number == tracking_number
    )
    if carrier:
        query = query.where(shipments.c.carrier == carrier)
    rows = (await conn.execute(query.order_by(shipments.c.created_at))).mappings()
    return [_shipment(row) for row in rows]


@dataclass(frozen=True, slots=True)
class ShipmentFilter:
    """Which of a store's shipments a listing shows; all given conditions must hold."""

    statuses: Sequence[Status] = ()
    carrier: str | None = None
    created_since: datetime | None = None  # inclusive
    created_until: datetime | None = None  # exclusive
    before: tuple[datetime, str] | None = None  # (created_at, id) of the previous page's last


async def list_page(
    conn: AsyncConnection, tenant_id: str, where: ShipmentFilter, limit: int
) -> list[Shipment]:
    """Up to `limit` shipments, newest first (ties by id), strictly after `where.before`."""
    s = shipments.c
    query = sa.select(shipments).where(s.tenant_id == tenant_id)
    if where.statuses:
        query = query.where(s.status.in_([status.value for status in where.statuses]))
    if where.carrier:
        query = query.where(s.carrier == where.carrier)
    if where.created_since is not None:
        query = query.where(s.created_at >= where.created_since)
    if where.created_until is not None:
        query = query.where(s.created_at < where.created_until)
    if where.before is not None:
        at, shipment_id = where.before
        query = query.where(
            sa.or_(s.created_at < at, sa.and_(s.created_at == at, s.id < shipment_id))
        )
    query = query.order_by(s.created_at.desc(), s.id.desc()).limit(limit)
    return [_shipment(row) for row in (await conn.execute(query)).mappings()]


async def timeline(conn: AsyncConnection, shipment_id: str) -> list[CanonicalEvent]:
    """Canonical events in occurred_at order (ties: arrival order), duplicates already collapsed."""
    query = (
        sa.select(events, shipments.c.tracking_number)
        .join(shipments, shipments.c.id == events.c.shipment_id)
        .where(events.c.shipment_id == shipment_id)
        .order_by(events.c.occurred_at, events.c.id)
    )
    return [_event(row) for row in (await conn.execute(query)).mappings()]


async def event_by_identity(
    conn: AsyncConnection, shipment_id: str, identity: str
) -> CanonicalEvent | None:
    """The stored event with this dedup identity (the one behind a change)."""
    query = (
        sa.select(events, shipments.c.tracking_number)
        .join(shipments, shipments.c.id == events.c.shipment_id)
        .where(events.c.shipment_id == shipment_id, events.c.identity == identity)
    )
    row = (await conn.execute(query)).mappings().first()
    return _event(row) if row else None


def _event(row: sa.RowMapping) -> CanonicalEvent:
    location = row["location"]
    return CanonicalEvent(
        tracking_number=row["tracking_number"],
        carrier=row["carrier"],
        status=Status(row["status"]),
        carrier_status_code=row["carrier_status_code"],
        occurred_at=row["occurred_at"],
        location=Location(
            location.get("city"),
            location.get("region"),
            location.get("postal_code"),
            location.get("country"),
        )
        if location
        else None,
        description=row["description"],
        estimated_delivery=row["estimated_delivery"],
        signed_by=row["signed_by"],
        photo_url=row["photo_url"],
    )


async def recipient_of(conn: AsyncConnection, shipment_id: str) -> dict[str, Any] | None:
    query = sa.select(shipments.c.recipient).where(shipments.c.id == shipment_id)
    recipient: dict[str, Any] | None = (await conn.execute(query)).scalar_one_or_none()
    return recipient


async def remove_push_token(conn: AsyncConnection, shipment_id: str, token: str) -> None:
    """Drop a token the push service called invalid from the shipment's recipient."""
    query = sa.select(shipments.c.recipient).where(shipments.c.id == shipment_id).with_for_update()
    recipient = (await conn.execute(query)).scalar_one_or_none()
    if not recipient or token not in (recipient.get("push_tokens") or []):
        return
    tokens = [t for t in recipient["push_tokens"] if t != token]
    await conn.execute(
        shipments.update()
        .where(shipments.c.id == shipment_id)
        .values(recipient={**recipient, "push_tokens": tokens})
    )


async def claim_change(conn: AsyncConnection, change_id: str) -> ShipmentChange | None:
    """Mark the change handled; None if another run already did."""
    claimed = await conn.execute(
        shipment_changes.update()
        .where(shipment_changes.c.id == change_id, shipment_changes.c.processed_at.is_(None))
        .values(processed_at=datetime.now(UTC))
        .returning(shipment_changes.c.id)
    )
    if claimed.first() is None:
        return None
    row = (
        (
            await conn.execute(
                sa.select(shipment_changes, shipments.c.tenant_id)
                .join(shipments, shipments.c.id == shipment_changes.c.shipment_id)
                .where(shipment_changes.c.id == change_id)
            )
        )
        .mappings()
        .one()
    )
    return ShipmentChange(
        id=row["id"],
        shipment_id=row["shipment_id"],
        tenant_id=row["tenant_id"],
        status_before=Status(row["status_before"]) if row["status_before"] else None,
        status_after=Status(row["status_after"]),
        eta_before=row["eta_before"],
        eta_after=row["eta_after"],
        event_identity=row["event_identity"],
        created_at=row["created_at"],
    )


async def unprocessed_changes(conn: AsyncConnection, due_before: datetime, limit: int) -> list[str]:
    """Ids of changes made before `due_before` and not fanned out yet, oldest first
    (ix_shipment_changes_unprocessed holds only those)."""
    query = (
        sa.select(shipment_changes.c.id)
        .where(
            shipment_changes.c.processed_at.is_(None),
            shipment_changes.c.created_at <= due_before,
        )
        .order_by(shipment_changes.c.created_at)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())
