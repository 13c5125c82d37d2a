"""Fan-out handler: a shipment's status or ETA moved → `shipment.*` store webhook events."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.domain.events import CanonicalEvent, format_utc
from gateway.shipments import store as shipments
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
    shipment = await shipments.get_by_id(conn, change.shipment_id)
    if shipment is None:
        return None
    event = await shipments.event_by_identity(conn, change.shipment_id, change.event_identity)
    recipient = shipment.recipient
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


def _event_json(event: CanonicalEvent) -> dict[str, Any]:
    return {
        "status": event.status.value,
        "carrier_status_code": event.carrier_status_code,
        "occurred_at": format_utc(event.occurred_at),
        "description": event.description,
        "location": event.location.to_json() if event.location else None,
        "signed_by": event.signed_by,
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
