"""ETAs for a driver's remaining stops, and when an ETA has moved enough to tell anyone.

Legs run from the driver to the first open stop, then stop to stop in route order. With a
planned path a leg is its distance along the path (shapely `line_locate_point`); without one, or
where the projection is not believable (a looping path can project a point onto the wrong pass),
it is the straight-line distance times a road factor. Each stop's service time delays the stops
after it; for a stop the driver has reached, only what is left of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np

from gateway.drivers.rules.deviation import PlannedPath
from gateway.drivers.rules.geo import haversine_m

DEFAULT_SERVICE_S: Final = 180.0
ETA_CHANGED_AFTER_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class EtaStop:
    stop_id: str
    lat: float
    lon: float
    service_s: float = DEFAULT_SERVICE_S
    arrived_at: datetime | None = None  # the driver is there: service started then


@dataclass(frozen=True, slots=True)
class EtaPolicy:
    road_factor: float = 1.3  # streets are longer than the crow flies
    # A leg along the path shorter than the straight line (less the slack that GPS offsets from
    # the path explain) or longer than max_path_detour straight lines is a mis-projection.
    max_path_detour: float = 3.0
    path_slack_m: float = 50.0


DEFAULT_ETA: Final = EtaPolicy()


@dataclass(frozen=True, slots=True)
class StopEta:
    stop_id: str
    eta: datetime
    distance_m: float  # travel distance from the driver's position to this stop


def estimate_etas(
    position: tuple[float, float],
    at: datetime,
    stops: Sequence[EtaStop],
    speed_mps: float,
    path: PlannedPath | None = None,
    policy: EtaPolicy = DEFAULT_ETA,
) -> list[StopEta]:
    """ETAs per open stop, in the given order, for a driver at `position` ([lat, lon]) at `at`.

    Raises ValueError for a speed that is not positive.
    """
    if not speed_mps > 0:
        raise ValueError("speed_mps must be positive")
    points = [position, *((s.lat, s.lon) for s in stops)]
    legs_m = _legs_m(points, path, policy)
    etas: list[StopEta] = []
    elapsed_s = distance_m = 0.0
    for stop, leg_m in zip(stops, legs_m, strict=True):
        distance_m += leg_m
        elapsed_s += leg_m / speed_mps
        etas.append(StopEta(stop.stop_id, at + timedelta(seconds=elapsed_s), distance_m))
        elapsed_s += _service_left_s(stop, at)
    return etas


def _service_left_s(stop: EtaStop, at: datetime) -> float:
    """A stop in service needs only what is left of its service time (nothing once overdue)."""
    if stop.arrived_at is None:
        return stop.service_s
    return max(0.0, stop.service_s - (at - stop.arrived_at).total_seconds())


def _legs_m(
    points: list[tuple[float, float]], path: PlannedPath | None, policy: EtaPolicy
) -> list[float]:
    straight = [haversine_m(*a, *b) for a, b in itertools.pairwise(points)]
    fallback = [d * policy.road_factor for d in straight]
    if path is None:
        return fallback
    coords = np.asarray(points, dtype=np.float64)
    along = path.along_many_m(coords[:, 0], coords[:, 1]).tolist()
    legs: list[float] = []
    for i, crow_m in enumerate(straight):
        on_path_m = along[i + 1] - along[i]
        slack_m = policy.path_slack_m
        believable = crow_m - slack_m <= on_path_m <= crow_m * policy.max_path_detour + slack_m
        legs.append(max(on_path_m, crow_m) if believable else fallback[i])
    return legs


def eta_changed(
    reported: datetime | None, new: datetime, threshold_s: float = ETA_CHANGED_AFTER_S
) -> bool:
    """Whether to emit `eta_changed`: nothing reported yet, or moved more than the threshold.

    Compare with the last ETA *reported*, not the last computed, so slow drift adds up.
    """
    return reported is None or abs((new - reported).total_seconds()) > threshold_s
