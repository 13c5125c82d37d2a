"""Screening a batch of driver pings: refuse the impossible ones, mark the inaccurate ones.

Modelled on Traccar's position filters (invalid, zero, future, duplicate, max speed) and on
accuracy-based filtering (AWS Location): a ping with a poor reported accuracy is kept for the map
but is not `trusted`, so geofence and deviation decisions never rest on it.

Pings may arrive late and out of order: they are placed by `recorded_at`, and the speed check
compares each ping with its accepted neighbour in time (the driver's last accepted ping from an
earlier batch is the anchor). A refused ping is reported with its reason; it never sinks the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from gateway.drivers.rules.geo import haversine_m
from gateway.drivers.rules.state import JsonState

MAX_BATCH_PINGS: Final = 500


class Refusal(StrEnum):
    BAD_COORDINATES = "bad_coordinates"  # NaN, infinite or out of range
    ZERO_COORDINATES = "zero_coordinates"  # (0, 0) "null island": a receiver without a fix
    FUTURE_TIME = "future_time"  # later than now plus the clock-skew allowance
    TOO_OLD = "too_old"
    DUPLICATE = "duplicate"  # same time and place as an accepted ping (an app resending)
    IMPLAUSIBLE_SPEED = "implausible_speed"  # too far from its accepted neighbour in time


@dataclass(frozen=True, slots=True)
class Ping(JsonState):
    """One GPS fix from the driver app (`recorded_at` is converted to UTC; naive is refused)."""

    lat: float
    lon: float
    recorded_at: datetime
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None

    def __post_init__(self) -> None:
        if self.recorded_at.tzinfo is None:
            raise ValueError("recorded_at must be timezone-aware")
        if self.recorded_at.utcoffset() != timedelta(0):
            object.__setattr__(self, "recorded_at", self.recorded_at.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    max_clock_skew_s: float = 120.0  # phones' clocks run a little ahead
    max_age_s: float = 86_400.0
    max_speed_mps: float = 70.0  # 252 km/h: only a GPS jump goes faster on city roads
    trusted_accuracy_m: float = 50.0
    trust_unknown_accuracy: bool = True  # many apps never report accuracy
    duplicate_within_m: float = 1.0
    # A jump within the two pings' reported accuracies is noise, not speed (capped so that a
    # cell-tower fix of 5 km cannot excuse anything).
    accuracy_allowance_cap_m: float = 100.0


DEFAULT_SCREENING: Final = ScreeningPolicy()


@dataclass(frozen=True, slots=True)
class AcceptedPing:
    index: int  # position in the batch as sent
    ping: Ping
    trusted: bool  # accurate enough for geofence and deviation decisions


@dataclass(frozen=True, slots=True)
class RefusedPing:
    index: int
    ping: Ping
    reason: Refusal


@dataclass(frozen=True, slots=True)
class Screening:
    accepted: tuple[AcceptedPing, ...]  # in recorded_at order
    refused: tuple[RefusedPing, ...]  # in batch order
    last_accepted: Ping | None  # the newest accepted ping so far: persist it for the next batch


_Candidate = tuple[int, Ping]


def screen_pings(
    pings: Sequence[Ping],
    last_accepted: Ping | None,
    now: datetime,
    policy: ScreeningPolicy = DEFAULT_SCREENING,
) -> Screening:
    """Screen one batch against the driver's last accepted ping (None for a new driver).

    Raises ValueError for more than MAX_BATCH_PINGS pings (the HTTP layer refuses those first).
    """
    if len(pings) > MAX_BATCH_PINGS:
        raise ValueError(f"at most {MAX_BATCH_PINGS} pings per batch")
    refused: list[RefusedPing] = []
    candidates: list[_Candidate] = []
    for index, ping in enumerate(pings):
        reason = _intrinsic_refusal(ping, now, policy)
        if reason is None:
            candidates.append((index, ping))
        else:
            refused.append(RefusedPing(index, ping, reason))
    candidates.sort(key=lambda c: c[1].recorded_at)
    accepted: list[_Candidate] = []
    anchor = last_accepted
    if anchor is None:
        candidates, first = _first_confirmed(candidates, refused, policy)
        if first is None:
            return _result([], refused, None, policy)
        accepted.append(first)
        anchor = first[1]
    later = [c for c in candidates if c[1].recorded_at >= anchor.recorded_at]
    earlier = [c for c in candidates if c[1].recorded_at < anchor.recorded_at]
    _walk(later, anchor, accepted, refused, policy)
    _walk(reversed(earlier), anchor, accepted, refused, policy)  # late pings: nearest first
    newest = max((c[1] for c in accepted), key=lambda p: p.recorded_at, default=None)
    if last_accepted is not None and (newest is None or newest.recorded_at < anchor.recorded_at):
        newest = last_accepted
    return _result(accepted, refused, newest, policy)


def _intrinsic_refusal(ping: Ping, now: datetime, policy: ScreeningPolicy) -> Refusal | None:
    lat, lon = ping.lat, ping.lon
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return Refusal.BAD_COORDINATES
    if abs(lat) < 1e-7 and abs(lon) < 1e-7:
        return Refusal.ZERO_COORDINATES
    age_s = (now - ping.recorded_at).total_seconds()
    if age_s < -policy.max_clock_skew_s:
        return Refusal.FUTURE_TIME
    if age_s > policy.max_age_s:
        return Refusal.TOO_OLD
    return None


def _jump(a: Ping, b: Ping, policy: ScreeningPolicy) -> Refusal | None:
    """Why b cannot follow a (in either time order), or None when it can."""
    distance_m = haversine_m(a.lat, a.lon, b.lat, b.lon)
    dt_s = abs((b.recorded_at - a.recorded_at).total_seconds())
    if dt_s == 0:  # one instant, two places: not a speed any vehicle has
        same_place = distance_m <= policy.duplicate_within_m
        return Refusal.DUPLICATE if same_place else Refusal.IMPLAUSIBLE_SPEED
    allowance_m = _allowance_m(a, policy) + _allowance_m(b, policy)
    if max(0.0, distance_m - allowance_m) / dt_s > policy.max_speed_mps:
        return Refusal.IMPLAUSIBLE_SPEED
    return None


def _allowance_m(ping: Ping, policy: ScreeningPolicy) -> float:
    accuracy = ping.accuracy_m
    if accuracy is None or not math.isfinite(accuracy) or accuracy < 0:
        return 0.0
    return min(accuracy, policy.accuracy_allowance_cap_m)


def _first_confirmed(
    candidates: list[_Candidate], refused: list[RefusedPing], policy: ScreeningPolicy
) -> tuple[list[_Candidate], _Candidate | None]:
    """With no earlier ping to compare with, the first ping needs a witness: the next one.

    Otherwise a first ping that is a GPS jump would become the reference and refuse the good
    pings after it. Returns the candidates left and the confirmed first one.
    """
    while candidates:
        first, rest = candidates[0], candidates[1:]
        if not rest or _jump(first[1], rest[0][1], policy) is not Refusal.IMPLAUSIBLE_SPEED:
            return rest, first
        refused.append(RefusedPing(first[0], first[1], Refusal.IMPLAUSIBLE_SPEED))
        candidates = rest
    return [], None


def _walk(
    candidates: Iterable[_Candidate],
    anchor: Ping,
    accepted: list[_Candidate],
    refused: list[RefusedPing],
    policy: ScreeningPolicy,
) -> None:
    previous = anchor
    for index, ping in candidates:
        reason = _jump(previous, ping, policy)
        if reason is None:
            accepted.append((index, ping))
            previous = ping
        else:
            refused.append(RefusedPing(index, ping, reason))


def _result(
    accepted: list[_Candidate],
    refused: list[RefusedPing],
    last_accepted: Ping | None,
    policy: ScreeningPolicy,
) -> Screening:
    accepted.sort(key=lambda c: c[1].recorded_at)
    refused.sort(key=lambda r: r.index)
    return Screening(
        accepted=tuple(AcceptedPing(i, p, _is_trusted(p, policy)) for i, p in accepted),
        refused=tuple(refused),
        last_accepted=last_accepted,
    )


def _is_trusted(ping: Ping, policy: ScreeningPolicy) -> bool:
    if ping.accuracy_m is None:
        return policy.trust_unknown_accuracy
    return 0 <= ping.accuracy_m <= policy.trusted_accuracy_m  # NaN compares False: untrusted
