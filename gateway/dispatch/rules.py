"""The console's pure decisions: a driver's state, whether a stop is late, how an alert reads,
and the day's figures (on-time rate, deliveries per hour, average rating per driver)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.dispatch.model import (
    AlertLine,
    DriverRating,
    DriverState,
    Figures,
    Position,
    RouteCard,
    StopCard,
)

OFFLINE_AFTER: Final = timedelta(minutes=10)  # no position for this long: the app is not sending
CLOSED: Final = frozenset({"done", "failed"})
DEFAULT_TIMEZONE: Final = "UTC"


def valid_timezone(name: str) -> str:
    """`name` if it is an IANA zone this machine knows, else UTC."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_TIMEZONE
    return name


@dataclass(frozen=True, slots=True)
class Day:
    """One calendar day in the dispatcher's zone, as a UTC-comparable [start, end)."""

    local: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.local, time(0), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.local + timedelta(days=1), time(0), self.zone)

    def __contains__(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def day_of(now: datetime, timezone: str, wanted: str | None) -> Day:
    """The day asked for (YYYY-MM-DD, not after today), else today, in `timezone`."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    try:
        local = date.fromisoformat(wanted) if wanted else today
    except ValueError:
        local = today
    return Day(min(local, today), zone)


def stop_is_late(stop: StopCard, now: datetime) -> bool:
    """Delivered after its promise, or open with an ETA (or the clock) past it."""
    promised = stop.promised_by
    if promised is None:
        return False
    if stop.state == "done":
        return stop.done_at is not None and stop.done_at > promised
    if stop.state == "failed":
        return False
    return now > promised or (stop.eta is not None and stop.eta > promised)


def driver_state(route: RouteCard | None, position: Position | None, now: datetime) -> DriverState:
    if route is None:
        return DriverState.IDLE
    if route.state == "done":
        return DriverState.FINISHED
    if route.state == "planned":
        return DriverState.WAITING
    if position is None or now - position.recorded_at > OFFLINE_AFTER:
        return DriverState.OFFLINE
    if route.off_route:
        return DriverState.OFF_ROUTE
    if any(s.state == "arrived" for s in route.stops):
        return DriverState.AT_STOP
    return DriverState.DRIVING


def figures(
    stops: Iterable[StopCard],
    ratings: Iterable[tuple[str | None, int]],
    names: Mapping[str, str],
    day: Day,
) -> Figures:
    """The day's figures from its routes' stops and its ratings ((driver id, score) pairs)."""
    per_hour = [0] * 24
    deliveries = failed = on_time = measured = 0
    for stop in stops:
        if stop.state == "failed" and stop.done_at in day:
            failed += 1
        if stop.state != "done" or stop.done_at not in day:
            continue
        assert stop.done_at is not None  # noqa: S101 - `in day` is False for None
        deliveries += 1
        per_hour[stop.done_at.astimezone(day.zone).hour] += 1
        if stop.promised_by is not None:
            measured += 1
            on_time += stop.done_at <= stop.promised_by
    return Figures(deliveries, failed, on_time, measured, per_hour, _ratings(ratings, names))


def _ratings(
    ratings: Iterable[tuple[str | None, int]], names: Mapping[str, str]
) -> list[DriverRating]:
    scores: dict[str, list[int]] = defaultdict(list)
    for driver_id, score in ratings:
        if driver_id is not None:
            scores[driver_id].append(score)
    found = [
        DriverRating(d, names.get(d, "A former driver"), sum(s) / len(s), len(s))
        for d, s in scores.items()
    ]
    return sorted(found, key=lambda r: (r.average, r.name))


@dataclass(frozen=True, slots=True)
class RawAlert:
    """An alert as the drivers area records it (`GET /v1/alerts` shape)."""

    id: str
    kind: str
    occurred_at: datetime
    driver_id: str | None
    shipment_id: str | None
    data: Mapping[str, Any]


_TONES: Final = {
    "late": "warning",
    "off_route": "problem",
    "back_on_route": "good",
    "failed_attempt": "problem",
    "low_rating": "warning",
}


def alert_line(
    alert: RawAlert, names: Mapping[str, str], addresses: Mapping[str, str], zone: ZoneInfo
) -> AlertLine:
    """The alert as one headline and one line of detail, times in the dispatcher's zone.

    A stop is named by its address when the board knows it (what a dispatcher recognises),
    else by its tracking number.
    """
    who = names.get(alert.driver_id or "", "A driver")
    data = alert.data
    parcel = short_address(addresses.get(alert.shipment_id or "")) or ""
    parcel = parcel or str(data.get("tracking_number") or "")
    parcel = parcel or "a parcel"
    title, detail = _TEXT.get(alert.kind, _unknown)(who, parcel, data, zone)
    return AlertLine(
        alert.id,
        alert.kind,
        _TONES.get(alert.kind, "warning"),
        title,
        detail,
        alert.occurred_at,
        alert.driver_id,
        alert.shipment_id,
    )


def clock(value: object, zone: ZoneInfo) -> str | None:
    """`14:05` for an ISO time (or datetime) in `zone`; None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    return value.astimezone(zone).strftime("%H:%M")


_Text = tuple[str, str]


def _late(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    promised = clock(data.get("promised_by"), zone) or "?"
    if data.get("reason") == "promise_passed":
        return f"Promise passed: {parcel}", f"{who} · promised by {promised}, not delivered yet"
    eta = clock(_minute_up(data.get("eta")), zone) or "?"
    late = _minutes_between(data.get("promised_by"), data.get("eta"))
    behind = f", {late} min after the promised {promised}" if late else f", promised by {promised}"
    return f"Running late: {parcel}", f"{who} · ETA {eta}{behind}"


def _minute_up(value: object) -> object:
    """An ETA to show on a whole minute, rounded up (late is late)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment + timedelta(seconds=59) if moment.second or moment.microsecond else moment


def short_address(address: str | None) -> str | None:
    """The street part of an address (`350 W Ohio St, Chicago, IL` → `350 W Ohio St`)."""
    return address.split(",", 1)[0].strip() or address if address else None


def _minutes_between(start: object, end: object) -> int | None:
    """Whole minutes from `start` to `end` (ISO strings), rounded up; None if unknown."""
    try:
        first = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        last = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    seconds = (last - first).total_seconds()
    return max(1, math.ceil(seconds / 60)) if seconds > 0 else None


def _off_route(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    distance = data.get("distance_m")
    away = f"{round(float(distance))} m from the planned path" if distance is not None else ""
    return f"{who} is off route", away or "Away from the planned path"


def _back_on_route(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    return f"{who} is back on route", "Following the planned path again"


def _failed(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    note = str(data.get("note") or "").strip()
    return f"Failed attempt: {parcel}", f"{who} · {note}" if note else who


def _low_rating(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    score = data.get("score")
    comment = str(data.get("comment") or "").strip()
    stars = f"{score}★" if isinstance(score, int) else "Low"
    said = f"“{comment}”" if comment else "No comment"
    return f"{stars} rating for {who}", f"{parcel} · {said}"


def _unknown(who: str, parcel: str, data: Mapping[str, Any], zone: ZoneInfo) -> _Text:
    return f"Alert for {who}", parcel


_TEXT: Final = {
    "late": _late,
    "off_route": _off_route,
    "back_on_route": _back_on_route,
    "failed_attempt": _failed,
    "low_rating": _low_rating,
}


def route_for_board(
    routes: Sequence[RouteCard], day: Day, finished: Mapping[str, datetime]
) -> RouteCard | None:
    """The route a driver's card shows: active, else planned, else the last one done that day."""
    for state in ("active", "planned"):
        found = [r for r in routes if r.state == state]
        if found:
            return found[0]
    done = [r for r in routes if r.state == "done" and finished.get(r.id) in day]
    return max(done, key=lambda r: finished[r.id]) if done else None
