"""Who reacts to a shipment change: one line per reacting area, run by `shipment_changed`.

Each handler runs inside the transaction that marks the change handled, and writes its follow-up
work (notifications, store webhook messages, ...) as rows plus outbox jobs with ids derived from
the change, so a retried or duplicated job can never produce the work twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import Status
from gateway.notify.plan import on_shipment_change as plan_notifications
from gateway.webhook_delivery.shipment_events import on_shipment_change


@dataclass(frozen=True, slots=True)
class ShipmentChange:
    id: str
    shipment_id: str
    tenant_id: str
    status_before: Status | None
    status_after: Status
    eta_before: date | None
    eta_after: date | None
    event_identity: str
    created_at: datetime

    @property
    def status_changed(self) -> bool:
        return self.status_before != self.status_after

    @property
    def eta_changed(self) -> bool:
        return self.eta_before != self.eta_after


ChangeHandler = Callable[[AsyncConnection, ShipmentChange], Awaitable[None]]

# One line per area that reacts to shipment changes.
CHANGE_HANDLERS: Final[tuple[ChangeHandler, ...]] = (
    on_shipment_change,  # store webhooks: shipment.status_changed / shipment.eta_changed
    plan_notifications,  # customer notifications: rows + send_notification jobs
)
