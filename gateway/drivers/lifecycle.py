"""When routes start and finish and which stop is next: pure decisions, no I/O.

A driver works one route at a time: an active route if there is one (the oldest started), else
the planned route whose window opens first, once it is at most START_EARLY away (or it has no
window). A route starts with its driver's first pings or stop event, and is done when no stop is
open. The first open stop of an active route is `active`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from gateway.domain.events import Status
from gateway.drivers.model import Route, RouteStatus, Stop, StopState

START_EARLY: Final = timedelta(minutes=30)  # a driver may set off before the window opens


def current_route(routes: Sequence[Route], now: datetime) -> Route | None:
    """The route a driver's pings belong to right now, or None."""
    active = [r for r in routes if r.state is RouteStatus.ACTIVE]
    if active:
        return min(active, key=lambda r: (r.started_at or r.created_at, r.id))
    startable = [
        r
        for r in routes
        if r.state is RouteStatus.PLANNED
        and (r.window_start is None or r.window_start - START_EARLY <= now)
    ]
    if not startable:
        return None
    return min(startable, key=lambda r: (r.window_start or r.created_at, r.created_at, r.id))


def next_stop(stops: Sequence[Stop]) -> Stop | None:
    """The first open stop in route order."""
    return next((s for s in stops if s.is_open), None)


def stop_to_activate(stops: Sequence[Stop]) -> Stop | None:
    """The next stop if it is still only planned (it becomes `active`)."""
    upcoming = next_stop(stops)
    return upcoming if upcoming is not None and upcoming.state is StopState.PLANNED else None


# What each driver stop event makes of the stop (None: the stop's state stays).
STOP_AFTER_EVENT: Final[dict[str, StopState | None]] = {
    "picked_up": None,
    "out_for_delivery": None,
    "arrived": StopState.ARRIVED,
    "delivered": StopState.DONE,
    "failed_attempt": StopState.FAILED,
}

# The canonical status and text of each driver stop event.
EVENT_STATUS: Final[dict[str, tuple[Status, str]]] = {
    "picked_up": (Status.IN_TRANSIT, "Picked up by the driver"),
    "out_for_delivery": (Status.OUT_FOR_DELIVERY, "Out for delivery"),
    "arrived": (Status.OUT_FOR_DELIVERY, "The driver has arrived"),
    "delivered": (Status.DELIVERED, "Delivered"),
    "failed_attempt": (Status.FAILED_ATTEMPT, "Delivery attempted"),
}


def stop_moves(stop: Stop, event_type: str) -> StopState | None:
    """The stop's new state after a driver event, or None when it does not move.

    A closed stop stays closed (a late `arrived` after `delivered` changes nothing), and an
    `arrived` stop is not arrived again.
    """
    target = STOP_AFTER_EVENT[event_type]
    if target is None or not stop.is_open or stop.state is target:
        return None
    return target
