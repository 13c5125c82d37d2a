"""The live card's rules, pure: when the driver is shown, when a position is stale, the words.

No clock, no I/O: positions, the stop's place in the driver's day, the locale and `now` in; the
`live` object of the status JSON (gateway/live/README.md, "Data contract") out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.domain.events import format_utc
from gateway.domain.zones import to_local
from gateway.tracking.page_text import PageLocale

STALE_AFTER: Final = timedelta(minutes=2)  # the issue: stale after 2 minutes without a ping
# Territories that give road distances in miles (CLDR measurement system "US"/"UK").
MILE_TERRITORIES: Final = frozenset({"US", "GB", "LR", "MM"})
_EARTH_M: Final = 6_371_008.8
_M_PER_MI: Final = 1609.344
# A planned path whose nearest vertex is farther than this from the driver is not theirs to
# follow any more (a detour): the card draws a straight line instead.
PATH_SNAP_M: Final = 1_000.0


@dataclass(frozen=True, slots=True)
class Position:
    """The newest known position of a driver (Redis `DRIVER_POSITION_KEY`, or a published one)."""

    lat: float
    lon: float
    heading: float | None
    recorded_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Position | None:
        """A published `<position>` (gateway/drivers/live.py); None when it is not one."""
        try:
            heading = data.get("heading")
            return cls(
                lat=float(data["lat"]),
                lon=float(data["lon"]),
                heading=float(heading) if heading is not None else None,
                recorded_at=_utc(str(data["recorded_at"])),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _utc(text: str) -> datetime:
    """An ISO time with an offset (`Z` included); naive is refused (ValueError)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a position's time must carry its offset")
    return moment.astimezone(UTC)


def shows_driver(route_active: bool, stop_open: bool, stops_before: int) -> bool:
    """The driver's position is the customer's to see only while their stop is the one the
    driver is heading to or at (the active stop: no open stop before it) on a route under way.
    Earlier it would show other customers' doorsteps; later there is nothing to follow."""
    return route_active and stop_open and stops_before == 0


def is_stale(recorded_at: datetime, now: datetime) -> bool:
    return now - recorded_at > STALE_AFTER


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def distance_text(meters: float, locale: PageLocale) -> str:
    """`1.4 km` / `350 m` / `0.9 mi` / `500 ft`, by the locale's territory."""
    decimal = locale.babel.number_symbols.get("latn", {}).get("decimal", ".")
    if locale.babel.territory in MILE_TERRITORIES:
        miles = meters / _M_PER_MI
        if miles < 0.1:
            return f"{max(50, round(meters * 3.28084 / 50) * 50)} ft"
        return f"{miles:.1f}".replace(".", decimal) + " mi"
    if meters < 1000:
        return f"{max(50, round(meters / 50) * 50)} m"
    return f"{meters / 1000:.1f}".replace(".", decimal) + " km"


def driver_label(
    position: Position,
    destination: tuple[float, float] | None,
    locale: PageLocale,
    zone: ZoneInfo,
    stale: bool,
) -> str:
    """`Your driver is 1.4 km away · seen 10:42 AM` (`Last seen` once stale)."""
    seen = locale.time(to_local(position.recorded_at, zone))
    if destination is None:
        return locale.t("live.last_seen" if stale else "live.seen", time=seen)
    away = distance_text(distance_m(position.lat, position.lon, *destination), locale)
    key = "live.away_last_seen" if stale else "live.away_seen"
    return locale.t(key, distance=away, time=seen)


def describe(
    position: Position,
    destination: tuple[float, float] | None,
    locale: PageLocale,
    zone: ZoneInfo,
    stale: bool,
) -> dict[str, Any]:
    """The `live.driver` object, also the data of a `position` event."""
    return {
        "lat": position.lat,
        "lon": position.lon,
        "heading": position.heading,
        "recorded_at": format_utc(position.recorded_at),
        "stale": stale,
        "label": driver_label(position, destination, locale, zone, stale),
    }


def driver_json(
    position: Position,
    destination: tuple[float, float] | None,
    locale: PageLocale,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """`describe` as of `now` (stale after STALE_AFTER without a newer position)."""
    stale = is_stale(position.recorded_at, now)
    return describe(position, destination, locale, zone, stale)


def remaining_path(
    planned: Sequence[Sequence[float]] | None,
    driver: tuple[float, float],
    destination: tuple[float, float],
) -> list[list[float]]:
    """Driver → door: the planned path from the vertex nearest the driver to the vertex nearest
    the door, or a straight line when there is no usable plan."""
    straight = [list(driver), list(destination)]
    points = [(float(p[0]), float(p[1])) for p in planned or () if len(p) >= 2]
    if len(points) < 2:
        return straight
    start = _nearest(points, driver)
    end = _nearest(points, destination)
    if end < start or distance_m(*points[start], *driver) > PATH_SNAP_M:
        return straight
    return [list(driver), *[list(p) for p in points[start : end + 1]], list(destination)]


def _nearest(points: Sequence[tuple[float, float]], to: tuple[float, float]) -> int:
    return min(range(len(points)), key=lambda i: distance_m(*points[i], *to))


def eta_text(eta: datetime | None, locale: PageLocale, zone: ZoneInfo, now: datetime) -> str | None:
    """`Arriving in about 12 min`; a far or passed ETA says the time instead."""
    if eta is None:
        return None
    minutes = math.ceil((eta - now).total_seconds() / 60)
    if minutes <= 2:
        return locale.t("live.eta_soon")
    if minutes <= 60:
        return locale.t("live.eta_min", n=minutes)
    return locale.t("live.eta_at", time=locale.time(to_local(eta, zone)))


def live_json(
    destination: tuple[float, float] | None,
    driver: dict[str, Any] | None,
    path: list[list[float]],
    eta: str | None,
) -> dict[str, Any]:
    return {
        "destination": {"lat": destination[0], "lon": destination[1]} if destination else None,
        "driver": driver,
        "path": path,
        "eta_text": eta,
    }
