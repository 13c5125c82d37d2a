"""Who reacts to a shipment change: one line per reacting area, run by `shipment_changed`.

Each handler runs inside the transaction that marks the change handled, and writes its follow-up
work (notifications, store webhook messages, ...) as rows plus outbox jobs with ids derived from
the change, so a retried or duplicated job can never produce the work twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.changes import ShipmentChange
from gateway.notifications.plan import on_shipment_change as plan_notifications
from gateway.store_webhooks.shipment_events import on_shipment_change

ChangeHandler = Callable[[AsyncConnection, ShipmentChange], Awaitable[None]]

# One line per area that reacts to shipment changes.
CHANGE_HANDLERS: Final[tuple[ChangeHandler, ...]] = (
    on_shipment_change,  # store webhooks: shipment.status_changed / shipment.eta_changed
    plan_notifications,  # customer notifications: rows + send_notification jobs
)
