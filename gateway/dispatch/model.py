"""What the console shows: typed cards for drivers, routes, stops, alerts and the day's figures.

`to_json()` is the board as the page's script receives it (`/dispatch/board` and the stream);
times are ISO strings in UTC, the browser formats them in the dispatcher's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.domain.events import format_utc


def _utc(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment is not None else None


class DriverState(StrEnum):
    DRIVING = "driving"  # on an active route, seen recently
    AT_STOP = "at_stop"  # inside a stop's geofence (or said so), not done there yet
    OFF_ROUTE = "off_route"  # away from the planned path
    WAITING = "waiting"  # a route is planned but not started
    FINISHED = "finished"  # the day's route is done
    IDLE = "idle"  # no route today
    OFFLINE = "offline"  # on a route, but no position for a while


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float
    recorded_at: datetime
    heading: float | None
    speed_mps: float | None
    trusted: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lon": self.lon,
            "recorded_at": _utc(self.recorded_at),
            "heading": self.heading,
            "speed_mps": self.speed_mps,
            "trusted": self.trusted,
        }


@dataclass(frozen=True, slots=True)
class StopCard:
    shipment_id: str
    tracking_number: str
    sequence: int
    state: str  # planned | active | arrived | done | failed
    lat: float
    lon: float
    address: str | None
    eta: datetime | None
    promised_by: datetime | None
    done_at: datetime | None
    late: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "tracking_number": self.tracking_number,
            "sequence": self.sequence,
            "state": self.state,
            "lat": self.lat,
            "lon": self.lon,
            "address": self.address,
            "eta": _utc(self.eta),
            "promised_by": _utc(self.promised_by),
            "done_at": _utc(self.done_at),
            "late": self.late,
        }


@dataclass(frozen=True, slots=True)
class RouteCard:
    id: str
    state: str  # planned | active | done
    off_route: bool
    path: list[list[float]] | None
    stops: list[StopCard]

    @property
    def done(self) -> int:
        return sum(1 for s in self.stops if s.state == "done")

    @property
    def failed(self) -> int:
        return sum(1 for s in self.stops if s.state == "failed")

    @property
    def next_stop(self) -> StopCard | None:
        return next((s for s in self.stops if s.state in ("planned", "active", "arrived")), None)

    @property
    def late_stops(self) -> int:
        return sum(1 for s in self.stops if s.late and s.state not in ("done", "failed"))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "off_route": self.off_route,
            "path": self.path,
            "stops": [s.to_json() for s in self.stops],
            "done": self.done,
            "failed": self.failed,
            "total": len(self.stops),
        }


@dataclass(frozen=True, slots=True)
class DriverCard:
    id: str
    name: str
    state: DriverState
    position: Position | None
    route: RouteCard | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state.value,
            "position": self.position.to_json() if self.position else None,
            "route": self.route.to_json() if self.route else None,
        }


@dataclass(frozen=True, slots=True)
class AlertLine:
    id: str
    kind: str  # late | off_route | back_on_route | failed_attempt | low_rating
    tone: str  # problem | warning | good: the colour of the line
    title: str
    detail: str
    occurred_at: datetime
    driver_id: str | None
    shipment_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "tone": self.tone,
            "title": self.title,
            "detail": self.detail,
            "occurred_at": _utc(self.occurred_at),
            "driver_id": self.driver_id,
            "shipment_id": self.shipment_id,
        }


@dataclass(frozen=True, slots=True)
class DriverRating:
    driver_id: str
    name: str
    average: float
    count: int


@dataclass(frozen=True, slots=True)
class Figures:
    deliveries: int
    failed: int
    on_time: int
    measured: int  # deliveries with a promise to measure against
    per_hour: list[int]  # deliveries in each local hour, 0-23
    ratings: list[DriverRating]

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.measured if self.measured else None

    @property
    def average_rating(self) -> float | None:
        count = sum(r.count for r in self.ratings)
        return sum(r.average * r.count for r in self.ratings) / count if count else None

    def to_json(self) -> dict[str, Any]:
        return {
            "deliveries": self.deliveries,
            "failed": self.failed,
            "on_time": self.on_time,
            "measured": self.measured,
            "on_time_rate": self.on_time_rate,
            "average_rating": self.average_rating,
            "per_hour": self.per_hour,
            "ratings": [
                {"driver_id": r.driver_id, "name": r.name, "average": r.average, "count": r.count}
                for r in self.ratings
            ],
        }


@dataclass(frozen=True, slots=True)
class Board:
    store_name: str
    day: str  # YYYY-MM-DD in the dispatcher's time zone
    is_today: bool
    timezone: str
    generated_at: datetime
    drivers: list[DriverCard]
    alerts: list[AlertLine]
    figures: Figures

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store_name,
            "day": self.day,
            "is_today": self.is_today,
            "timezone": self.timezone,
            "generated_at": _utc(self.generated_at),
            "drivers": [d.to_json() for d in self.drivers],
            "alerts": [a.to_json() for a in self.alerts],
            "figures": self.figures.to_json(),
        }
