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
    eta_at: datetime | None = None  # occurred_at of the event that set `estimated_delivery`


def apply_event(
    state: ShipmentState, status: Status, occurred_at: datetime, estimated_delivery: date | None
) -> ShipmentState:
    """The state after one more event. The result depends on the set of events, not their order:

    - status is the newest terminal event's if there is one, else the newest known event's,
      else `unknown` (an unmapped code joins the timeline but never replaces a known status);
    - the ETA is the one carried by the newest event that carries one.
    """
    new = state
    if estimated_delivery is not None and (state.eta_at is None or occurred_at >= state.eta_at):
        new = replace(new, estimated_delivery=estimated_delivery, eta_at=occurred_at)
    if status is Status.UNKNOWN:
        return new
    current_terminal = state.status in TERMINAL
    if current_terminal and status not in TERMINAL:
        return new
    newer = state.status_at is None or occurred_at >= state.status_at
    if newer or (status in TERMINAL and not current_terminal):
        return replace(new, status=status, status_at=occurred_at)
    return new
