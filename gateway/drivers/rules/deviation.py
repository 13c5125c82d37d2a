"""Route deviation: `off_route` and `back_on_route` against the planned path, with shapely.

The path ([lat, lon] pairs) is projected once per route onto a local metric plane, simplified
(a router's polyline has a vertex every few metres, mostly on straight streets) and its segments
indexed in an STRtree, so each batch costs one vectorised nearest-segment query. Off
route means farther than `off_route_m` for at least `off_route_after_s` of trusted pings; back on
route means within the smaller `back_on_route_m` (hysteresis) for `back_on_route_after_s`. A
short spike fires nothing, and each episode fires each decision once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, cast

import numpy as np
import numpy.typing as npt
import shapely

from gateway.drivers.rules.geo import FloatArray, LocalPlane
from gateway.drivers.rules.state import JsonState
from gateway.drivers.rules.trace import Trace

ObjectArray = npt.NDArray[np.object_]

# Vertices closer than this to the simplified path go: nothing next to a 250 m threshold, and
# a densified polyline shrinks to its corners (40 times fewer segments on a city grid).
SIMPLIFY_TOLERANCE_M = 5.0


class PlannedPath:
    """A route's planned path, prepared once: build it per route, never per ping."""

    __slots__ = ("_line", "_plane", "_tree", "length_m")

    def __init__(self, path: Sequence[Sequence[float]]) -> None:
        """`path` is [[lat, lon], ...]; raises ValueError for fewer than two distinct points."""
        coords = np.asarray(path, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[0] < 2 or coords.shape[1] != 2:
            raise ValueError("a path needs at least two [lat, lon] points")
        if not np.isfinite(coords).all():
            raise ValueError("a path's coordinates must be finite numbers")
        self._plane = LocalPlane.around(coords.tolist())
        x, y = self._plane.xy(coords[:, 0], coords[:, 1])
        if float(shapely.length(shapely.linestrings(np.column_stack((x, y))))) == 0:
            raise ValueError("a path needs at least two distinct points")
        self._line = shapely.simplify(
            shapely.linestrings(np.column_stack((x, y))), SIMPLIFY_TOLERANCE_M
        )
        self.length_m = float(shapely.length(self._line))
        xy = shapely.get_coordinates(self._line)
        # An (n, 2, 2) array gives an array of n segments; the stubs cannot tell it from one line.
        segments = cast(ObjectArray, shapely.linestrings(np.stack((xy[:-1], xy[1:]), axis=1)))
        self._tree = shapely.STRtree(segments)
        shapely.prepare(self._line)

    def distances_m(self, lats: FloatArray, lons: FloatArray) -> FloatArray:
        """Each point's distance to the path in metres (vectorised)."""
        if len(lats) == 0:
            return np.empty(0, dtype=np.float64)
        points = shapely.points(*self._plane.xy(lats, lons))
        _, distances = self._tree.query_nearest(points, return_distance=True, all_matches=False)
        result: FloatArray = np.asarray(distances, dtype=np.float64)
        return result

    def along_m(self, lat: float, lon: float) -> float:
        """Distance along the path, from its start, to the point of the path nearest (lat, lon)."""
        return float(self.along_many_m(np.array([lat]), np.array([lon]))[0])

    def along_many_m(self, lats: FloatArray, lons: FloatArray) -> FloatArray:
        points = shapely.points(*self._plane.xy(lats, lons))
        along: FloatArray = np.asarray(shapely.line_locate_point(self._line, points), np.float64)
        return along


class PathCache:
    """A small LRU of prepared paths, keyed by the caller (e.g. route id and path version)."""

    def __init__(self, max_paths: int = 1024) -> None:
        self._paths: OrderedDict[Hashable, PlannedPath] = OrderedDict()
        self._max_paths = max_paths

    def get(self, key: Hashable, path: Sequence[Sequence[float]]) -> PlannedPath:
        """The prepared path for `key`, built from `path` the first time only."""
        planned = self._paths.get(key)
        if planned is None:
            planned = self._paths[key] = PlannedPath(path)
            if len(self._paths) > self._max_paths:
                self._paths.popitem(last=False)
        else:
            self._paths.move_to_end(key)
        return planned


class RouteEvent(StrEnum):
    OFF_ROUTE = "off_route"
    BACK_ON_ROUTE = "back_on_route"


@dataclass(frozen=True, slots=True)
class DeviationPolicy:
    off_route_m: float = 250.0
    off_route_after_s: float = 90.0
    back_on_route_m: float = 150.0  # closer than off_route_m: an edge-hugging trace does not flap
    back_on_route_after_s: float = 15.0


DEFAULT_DEVIATION: Final = DeviationPolicy()


@dataclass(frozen=True, slots=True)
class RouteDecision:
    event: RouteEvent
    at: datetime  # recorded_at of the ping that confirmed it
    distance_m: float  # that ping's distance from the path


@dataclass(frozen=True, slots=True)
class DeviationState(JsonState):
    """Persist per route. `since` starts the current run of pings past the boundary that would
    change `off_route` (far pings while on route, near pings while off it)."""

    off_route: bool = False
    since: datetime | None = None


def evaluate_deviation(
    trace: Trace,
    path: PlannedPath,
    state: DeviationState,
    policy: DeviationPolicy = DEFAULT_DEVIATION,
) -> tuple[list[RouteDecision], DeviationState]:
    distances = path.distances_m(trace.lat, trace.lon)
    if len(distances) == 0:
        return [], state
    if not state.off_route and not (distances > policy.off_route_m).any():
        return [], DeviationState()  # the common case: on route throughout, no loop
    decisions: list[RouteDecision] = []
    off_route, since = state.off_route, state.since
    for i, distance_m in enumerate(distances.tolist()):
        if off_route:
            past, needed_s = distance_m <= policy.back_on_route_m, policy.back_on_route_after_s
        else:
            past, needed_s = distance_m > policy.off_route_m, policy.off_route_after_s
        if not past:
            since = None
            continue
        at = trace.times[i]
        since = at if since is None else since
        if (at - since).total_seconds() >= needed_s:
            event = RouteEvent.BACK_ON_ROUTE if off_route else RouteEvent.OFF_ROUTE
            decisions.append(RouteDecision(event, at, distance_m))
            off_route, since = not off_route, None
    return decisions, DeviationState(off_route, since)
