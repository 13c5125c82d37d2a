"""How a new event moves a shipment's state: pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final

from gateway.domain.events import Status

# A terminal status is only left for another terminal one that happened later (a delivered parcel
# can still be returned); a mis-scan after delivery joins the timeline and changes nothing.
TERMINAL: Final = frozenset({Status.DELIVERED, Status.RETURNED})


@dataclass(frozen=True, slots=True)
class ShipmentState:
    status: Status
    status_at: datetime | None  # occurred_at of the event that set `status`
    estimated_delivery: date | None


def apply_event(
    state: ShipmentState, status: Status, occurred_at: datetime, estimated_delivery: date | None
) -> ShipmentState:
    """The state after one more event, whatever order events arrive in.

    - the newest event (by occurred_at) sets the status; an older one never moves it backwards;
    - `unknown` codes join the timeline but never replace a known status;
    - terminal statuses are left only for a later terminal status;
    - the ETA follows the newest event that carries one.
    """
    newer = state.status_at is None or occurred_at >= state.status_at
    if not newer:
        return state
    new = state
    if estimated_delivery is not None:
        new = replace(new, estimated_delivery=estimated_delivery)
    if status is Status.UNKNOWN and state.status is not Status.UNKNOWN:
        return new
    if state.status in TERMINAL and status not in TERMINAL:
        return new
    return replace(new, status=status, status_at=occurred_at)
