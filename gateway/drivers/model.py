"""The drivers area's vocabulary: route and stop states, alert kinds, and the typed rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class RouteStatus(StrEnum):
    PLANNED = "planned"  # created; the driver has not started it
    ACTIVE = "active"  # the driver is on it (first pings in its window, or a stop event)
    DONE = "done"  # every stop delivered or failed


class StopState(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"  # the next stop of an active route
    ARRIVED = "arrived"  # inside its geofence, or the driver said so
    DONE = "done"  # delivered
    FAILED = "failed"  # a failed attempt


OPEN_STOP_STATES: Final = frozenset({StopState.PLANNED, StopState.ACTIVE, StopState.ARRIVED})
OPEN_ROUTE_STATES: Final = frozenset({RouteStatus.PLANNED, RouteStatus.ACTIVE})


class AlertKind(StrEnum):
    LATE = "late"
    OFF_ROUTE = "off_route"
    BACK_ON_ROUTE = "back_on_route"
    FAILED_ATTEMPT = "failed_attempt"
    LOW_RATING = "low_rating"


LOW_RATING_MAX_SCORE: Final = 2


@dataclass(frozen=True, slots=True)
class Driver:
    id: str
    tenant_id: str
    name: str
    phone: str
    token_version: int
    last_ping: dict[str, Any] | None
    position_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Stop:
    route_id: str
    shipment_id: str
    sequence: int
    state: StopState
    lat: float
    lon: float
    radius_m: float
    service_s: float
    eta: datetime | None
    eta_reported: datetime | None
    eta_reports: int
    late_reports: int
    arrived_at: datetime | None
    delivered_at: datetime | None
    done_at: datetime | None
    promised_by: datetime | None  # the shipment's
    tracking_number: str
    carrier: str  # the shipment's carrier (a driver's events attach to it)
    address: str | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STOP_STATES


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    tenant_id: str
    driver_id: str
    state: RouteStatus
    window_start: datetime | None
    window_end: datetime | None
    path: list[list[float]] | None
    notify_stops_away: int | None
    rule_state: dict[str, Any]
    off_route: bool
    off_route_episodes: int
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RouteWithStops:
    route: Route
    stops: list[Stop]  # in route order

    @property
    def open_stops(self) -> list[Stop]:
        return [s for s in self.stops if s.is_open]
