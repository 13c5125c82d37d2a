"""Fan-out handler: a shipment's status or ETA moved → `shipment.*` store webhook events."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.domain.events import format_utc
from gateway.shipments.tables import events, shipments
from gateway.store_webhooks.events import EventType, emit


async def on_shipment_change(conn: AsyncConnection, change: ShipmentChange) -> None:
    """Runs in the `shipment_changed` transaction; idempotency keys derive from the change."""
    if not (change.status_changed or change.eta_changed):
        return
    data = await _shipment_data(conn, change)
    if data is None:
        return
    if change.status_changed:
        status_data = {
            **data,
            "previous_status": change.status_before.value if change.status_before else None,
        }
        await emit(
            conn,
            change.tenant_id,
            EventType.SHIPMENT_STATUS_CHANGED,
            status_data,
            f"{change.id}:status",
        )
    if change.eta_changed:
        eta_data = {
            **data,
            "previous_estimated_delivery": _iso(change.eta_before),
        }
        await emit(
            conn, change.tenant_id, EventType.SHIPMENT_ETA_CHANGED, eta_data, f"{change.id}:eta"
        )


async def _shipment_data(conn: AsyncConnection, change: ShipmentChange) -> dict[str, Any] | None:
    shipment = (
        await conn.execute(sa.select(shipments).where(shipments.c.id == change.shipment_id))
    ).first()
    if shipment is None:
        return None
    event = (
        await conn.execute(
            sa.select(events).where(
                events.c.shipment_id == change.shipment_id,
                events.c.identity == change.event_identity,
            )
        )
    ).first()
    recipient = shipment.recipient or {}
    return {
        "shipment_id": shipment.id,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "order_id": shipment.order_id,
        "status": change.status_after.value,
        "estimated_delivery": _iso(change.eta_after),
        "event": _event_json(event) if event is not None else None,
        # Dropped by emit() unless the endpoint asked for include_pii.
        "recipient": {"phone": recipient.get("phone"), "email": recipient.get("email")},
    }


def _event_json(event: Any) -> dict[str, Any]:
    return {
        "status": event.status,
        "carrier_status_code": event.carrier_status_code,
        "occurred_at": format_utc(event.occurred_at),
        "description": event.description,
        "location": event.location,
        "signed_by": event.signed_by,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
