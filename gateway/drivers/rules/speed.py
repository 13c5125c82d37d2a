"""The driver's travel speed, learned from recent trusted pings for the ETA.

Each batch is cut into segments of at least `min_segment_s` and, unless `max_segment_s` runs
out first, `min_segment_m`: GPS jitter while parked stays far below that distance, so it never
looks like motion. The moving segments' median speed is robust to a stray fix and to segments
that end at a red light; batches are blended by an exponentially weighted moving average.
The result is clamped to urban bounds, and a default stands in until enough has been seen.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.drivers.rules.geo import haversine_m
from gateway.drivers.rules.state import JsonState
from gateway.drivers.rules.trace import Trace


@dataclass(frozen=True, slots=True)
class SpeedPolicy:
    default_mps: float = 8.0  # ~29 km/h, city delivery driving
    min_mps: float = 2.0
    max_mps: float = 20.0
    moving_above_mps: float = 1.5  # slower segments are waiting (lights, stops), not travel
    min_segment_s: float = 10.0
    min_segment_m: float = 40.0  # well beyond the jitter of a trusted fix over a few seconds
    max_segment_s: float = 120.0  # across a longer gap nobody knows what happened
    min_segments: int = 3
    tau_s: float = 600.0  # time constant of the moving average


DEFAULT_SPEED: Final = SpeedPolicy()


@dataclass(frozen=True, slots=True)
class SpeedState(JsonState):
    """Persist per driver: the average so far and the last trusted ping (to join batches)."""

    average_mps: float | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    last_at: datetime | None = None


def update_speed(
    trace: Trace, state: SpeedState, policy: SpeedPolicy = DEFAULT_SPEED
) -> SpeedState:
    """The state after this batch's trusted pings."""
    if len(trace) == 0:
        return state
    points = list(zip(trace.lat.tolist(), trace.lon.tolist(), trace.t_s.tolist(), strict=True))
    if state.last_at is not None and state.last_lat is not None and state.last_lon is not None:
        points.insert(0, (state.last_lat, state.last_lon, state.last_at.timestamp()))
    speeds, moving_s = _moving_speeds(points, policy)
    average = state.average_mps
    if len(speeds) >= policy.min_segments:
        batch_mps = statistics.median(speeds)
        weight = 1.0 - math.exp(-moving_s / policy.tau_s)
        average = batch_mps if average is None else average + weight * (batch_mps - average)
    last = len(trace) - 1
    return SpeedState(average, float(trace.lat[last]), float(trace.lon[last]), trace.times[last])


def current_speed_mps(state: SpeedState, policy: SpeedPolicy = DEFAULT_SPEED) -> float:
    """The speed to plan with: the learned one clamped to urban bounds, or the default."""
    if state.average_mps is None:
        return policy.default_mps
    return min(policy.max_mps, max(policy.min_mps, state.average_mps))


def _moving_speeds(
    points: list[tuple[float, float, float]], policy: SpeedPolicy
) -> tuple[list[float], float]:
    """Speeds of the moving segments and the seconds they cover."""
    speeds: list[float] = []
    moving_s = 0.0
    start = points[0]
    for point in points[1:]:
        dt_s = point[2] - start[2]
        if dt_s < policy.min_segment_s:
            continue
        distance_m = haversine_m(start[0], start[1], point[0], point[1])
        if distance_m < policy.min_segment_m and dt_s < policy.max_segment_s:
            continue  # not yet far enough to tell motion from jitter
        if dt_s <= policy.max_segment_s and distance_m / dt_s > policy.moving_above_mps:
            speeds.append(distance_m / dt_s)
            moving_s += dt_s
        start = point
    return speeds, moving_s
