"""Shipment reads and store registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.domain.events import Status
from gateway.platform.ids import new_id
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import events, shipment_changes, shipments


class ShipmentExists(Exception):
    """The store already registered this tracking number for this carrier."""


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


async def get(conn: AsyncConnection, tenant_id: str, shipment_id: str) -> sa.Row[Any] | None:
    query = sa.select(shipments).where(
        shipments.c.id == shipment_id, shipments.c.tenant_id == tenant_id
    )
    return (await conn.execute(query)).first()


async def find(
    conn: AsyncConnection, tenant_id: str, tracking_number: str, carrier: str | None
) -> list[sa.Row[Any]]:
    query = sa.select(shipments).where(
        shipments.c.tenant_id == tenant_id, shipments.c.tracking_number == tracking_number
    )
    if carrier:
        query = query.where(shipments.c.carrier == carrier)
    return list((await conn.execute(query.order_by(shipments.c.created_at))).all())


async def timeline(conn: AsyncConnection, shipment_id: str) -> list[dict[str, Any]]:
    """Canonical events in occurred_at order (ties: arrival order), duplicates already collapsed."""
    query = (
        sa.select(events, shipments.c.tracking_number)
        .join(shipments, shipments.c.id == events.c.shipment_id)
        .where(events.c.shipment_id == shipment_id)
        .order_by(events.c.occurred_at, events.c.id)
    )
    return [_event_json(row) for row in (await conn.execute(query)).all()]


def _event_json(row: sa.Row[Any]) -> dict[str, Any]:
    eta: date | None = row.estimated_delivery
    return {
        "tracking_number": row.tracking_number,
        "carrier": row.carrier,
        "status": row.status,
        "carrier_status_code": row.carrier_status_code,
        "occurred_at": row.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "location": row.location,
        "description": row.description,
        "estimated_delivery": eta.isoformat() if eta else None,
        "signed_by": row.signed_by,
        "photo_url": row.photo_url,
    }


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
    row: Any = (
        await conn.execute(
            sa.select(shipment_changes, shipments.c.tenant_id)
            .join(shipments, shipments.c.id == shipment_changes.c.shipment_id)
            .where(shipment_changes.c.id == change_id)
        )
    ).one()
    return ShipmentChange(
        id=row.id,
        shipment_id=row.shipment_id,
        tenant_id=row.tenant_id,
        status_before=Status(row.status_before) if row.status_before else None,
        status_after=Status(row.status_after),
        eta_before=row.eta_before,
        eta_after=row.eta_after,
        event_identity=row.event_identity,
        created_at=row.created_at,
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
