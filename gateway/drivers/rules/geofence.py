"""Stop geofences: `arriving` once per stop, `departed` once after it, and "N stops away".

A stop's fence has an entry radius (default 300 m) and a larger exit radius (hysteresis), and a
crossing counts only after `confirm_pings` consecutive trusted pings on the far side, so a
jittery trace along the edge fires once and a single wild ping fires nothing. Only the next
`watch_next` remaining stops are watched for arrival: driving past a later stop on the way to
an earlier one must not tell that customer the driver is arriving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.drivers.rules.geo import haversine_many_m
from gateway.drivers.rules.state import JsonState
from gateway.drivers.rules.trace import Trace

DEFAULT_RADIUS_M: Final = 300.0


class FenceEvent(StrEnum):
    ARRIVING = "arriving"
    DEPARTED = "departed"  # left the exit radius after arriving, while the stop is still open


@dataclass(frozen=True, slots=True)
class FenceStop:
    stop_id: str
    lat: float
    lon: float
    radius_m: float = DEFAULT_RADIUS_M


@dataclass(frozen=True, slots=True)
class GeofencePolicy:
    exit_factor: float = 1.5  # exit radius = max(radius * exit_factor, radius + min_exit_margin_m)
    min_exit_margin_m: float = 100.0
    confirm_pings: int = 2
    watch_next: int = 1

    def exit_radius_m(self, stop: FenceStop) -> float:
        return max(stop.radius_m * self.exit_factor, stop.radius_m + self.min_exit_margin_m)


DEFAULT_GEOFENCE: Final = GeofencePolicy()


@dataclass(frozen=True, slots=True)
class FenceDecision:
    event: FenceEvent
    stop_id: str
    at: datetime  # recorded_at of the ping that confirmed the crossing


@dataclass(frozen=True, slots=True)
class StopFence:
    """One stop's progress: the streak counts consecutive trusted pings past the next boundary."""

    stop_id: str
    streak: int = 0
    arrived_at: datetime | None = None  # when `arriving` fired
    departed: bool = False


@dataclass(frozen=True, slots=True)
class GeofenceState(JsonState):
    """Persist per route; a stop that fired stays listed so it never fires again."""

    fences: tuple[StopFence, ...] = ()

    def arrived_at(self, stop_id: str) -> datetime | None:
        """When `arriving` fired for this stop (None: not yet)."""
        return next((f.arrived_at for f in self.fences if f.stop_id == stop_id), None)


def evaluate_geofence(
    trace: Trace,
    remaining: Sequence[FenceStop],
    state: GeofenceState,
    policy: GeofencePolicy = DEFAULT_GEOFENCE,
) -> tuple[list[FenceDecision], GeofenceState]:
    """Decisions for one batch: `remaining` are the route's open stops in order."""
    fences = {f.stop_id: f for f in state.fences}
    kept = {f.stop_id: f for f in state.fences if f.arrived_at}  # they never fire again
    decisions: list[FenceDecision] = []
    for position, stop in enumerate(remaining):
        fence = fences.get(stop.stop_id, StopFence(stop.stop_id))
        watched = position < policy.watch_next
        if fence.departed or not (fence.arrived_at or watched):
            continue  # an unwatched stop's streak starts afresh when it is watched again
        if len(trace):
            fence = _advance(fence, stop, trace, policy, decisions)
        if fence.streak or fence.arrived_at:
            kept[stop.stop_id] = fence
    return decisions, GeofenceState(tuple(kept.values()))


def _advance(
    fence: StopFence,
    stop: FenceStop,
    trace: Trace,
    policy: GeofencePolicy,
    decisions: list[FenceDecision],
) -> StopFence:
    distances_m = haversine_many_m(trace.lat, trace.lon, stop.lat, stop.lon)
    inside = (distances_m <= stop.radius_m).tolist()
    outside_exit = (distances_m > policy.exit_radius_m(stop)).tolist()
    streak, arrived_at = fence.streak, fence.arrived_at
    for i in range(len(trace)):
        past_boundary = outside_exit[i] if arrived_at else inside[i]
        streak = streak + 1 if past_boundary else 0
        if streak < policy.confirm_pings:
            continue
        event = FenceEvent.DEPARTED if arrived_at else FenceEvent.ARRIVING
        decisions.append(FenceDecision(event, stop.stop_id, trace.times[i]))
        if arrived_at:
            return replace(fence, streak=0, arrived_at=arrived_at, departed=True)
        arrived_at, streak = trace.times[i], 0
    return replace(fence, streak=streak, arrived_at=arrived_at)


DEFAULT_STOPS_AWAY: Final = 2


@dataclass(frozen=True, slots=True)
class StopsAwayDecision:
    stop_id: str
    stops_away: int  # open stops before this one; the stop N places ahead has just become next


@dataclass(frozen=True, slots=True)
class StopsAwayState(JsonState):
    """Persist per route: the stops already told."""

    notified: tuple[str, ...] = ()


def stops_away(
    remaining_stop_ids: Sequence[str], state: StopsAwayState, n: int = DEFAULT_STOPS_AWAY
) -> tuple[list[StopsAwayDecision], StopsAwayState]:
    """Once per stop, when at most `n` open stops come before it in the route order.

    Call it whenever the open stops change. A stop that is already closer than `n` when first
    seen (a short route) is told its actual count.
    """
    told = set(state.notified)
    decisions = [
        StopsAwayDecision(stop_id, position)
        for position, stop_id in enumerate(remaining_stop_ids[: n + 1])
        if stop_id not in told
    ]
    if not decisions:
        return [], state
    return decisions, StopsAwayState(state.notified + tuple(d.stop_id for d in decisions))
