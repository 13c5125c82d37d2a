"""Throughput of the pure driver rules on 500-ping batches (no HTTP, no database).

    uv run python benchmarks/driver_rules.py [--batches 200] [--path-km 60] [--stops 40]

A day's planned path on a city grid (a vertex every 25 m, as a router's polyline has), a batch of
500 noisy pings (5 s apart, ~40 min of driving) along it, and `--stops` open stops ahead. Each
stage is timed over `--batches` runs of the same batch with a fresh state: screening (against the
last accepted ping), building the trusted trace, geofence (next stop watched), deviation (once on
route, once with the whole batch off route so the per-ping loop runs), speed, ETAs for every open
stop, and the whole `evaluate_batch` including the state's JSON round trip. The path is prepared
once, as the gateway's PathCache does per route; its preparation time is printed separately.
The target for the whole server is 20,000 pings/s with HTTP and the database, so the rules alone
should leave most of a core for the rest.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from gateway.drivers.rules.batch import RouteState, RouteStop, evaluate_batch
from gateway.drivers.rules.deviation import DeviationState, PlannedPath, evaluate_deviation
from gateway.drivers.rules.eta import EtaStop, estimate_etas
from gateway.drivers.rules.geo import EARTH_RADIUS_M
from gateway.drivers.rules.geofence import FenceStop, GeofenceState, evaluate_geofence
from gateway.drivers.rules.pings import Ping, screen_pings
from gateway.drivers.rules.speed import SpeedState, current_speed_mps, update_speed
from gateway.drivers.rules.trace import Trace

ORIGIN = (41.8781, -87.6298)
T0 = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
BATCH = 500


def _latlon(xy: np.ndarray) -> np.ndarray:
    k = EARTH_RADIUS_M * math.pi / 180
    lat = ORIGIN[0] + xy[:, 1] / k
    lon = ORIGIN[1] + xy[:, 0] / (k * math.cos(math.radians(ORIGIN[0])))
    return np.column_stack((lat, lon))


def _grid_route(path_km: float, rng: np.random.Generator) -> np.ndarray:
    """A staircase of 1-4 block legs, east or north, densified to a vertex every 25 m."""
    corners, here, total = [np.zeros(2)], np.zeros(2), 0.0
    while total < path_km * 1000:
        step = np.array([1.0, 0.0]) if rng.random() < 0.5 else np.array([0.0, 1.0])
        leg = 201.0 * int(rng.integers(1, 5))
        here = here + step * leg
        corners.append(here)
        total += leg
    dense = [corners[0]]
    for a, b in itertools.pairwise(corners):
        n = max(1, int(np.linalg.norm(b - a) // 25))
        dense += [a + (b - a) * (i / n) for i in range(1, n + 1)]
    return np.array(dense)


def _batch(xy: np.ndarray, start_m: float, rng: np.random.Generator) -> list[Ping]:
    """500 pings 5 s apart at 9 m/s along the path from start_m, 6 m noise, shuffled."""
    seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    along = np.concatenate(([0.0], np.cumsum(seg)))
    at = start_m + 45.0 * np.arange(BATCH)
    points = np.column_stack((np.interp(at, along, xy[:, 0]), np.interp(at, along, xy[:, 1])))
    points += rng.normal(0, 6, points.shape)
    latlon = _latlon(points)
    pings = [
        Ping(float(lat), float(lon), T0 + timedelta(seconds=5 * i), accuracy_m=10.0)
        for i, (lat, lon) in enumerate(latlon)
    ]
    return [pings[i] for i in rng.permutation(BATCH)]


def _time(label: str, runs: int, work: Callable[[], object]) -> float:
    work()  # warm caches (pydantic adapters, numpy)
    started = time.perf_counter()
    for _ in range(runs):
        work()
    per_batch_s = (time.perf_counter() - started) / runs
    print(f"{label:<34} {per_batch_s * 1e3:8.3f} ms/batch {BATCH / per_batch_s:>12,.0f} pings/s")
    return per_batch_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--path-km", type=float, default=60.0)
    parser.add_argument("--stops", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    xy = _grid_route(args.path_km, rng)
    started = time.perf_counter()
    path = PlannedPath(_latlon(xy).tolist())
    prepare_ms = (time.perf_counter() - started) * 1e3
    start_m = path.length_m * 0.3
    pings = _batch(xy, start_m, rng)
    ahead = _latlon(np.array([xy[min(len(xy) - 1, 60 + 35 * i)] for i in range(args.stops)]))
    route_stops = [RouteStop(f"s{i}", float(a), float(b)) for i, (a, b) in enumerate(ahead)]
    off_route = [Ping(p.lat + 0.01, p.lon, p.recorded_at, p.accuracy_m) for p in pings]
    print(
        f"load {os.getloadavg()[0]:.2f}; path {path.length_m / 1000:.1f} km, {len(xy)} "
        f"vertices, prepared once in {prepare_ms:.1f} ms; {args.stops} open stops"
    )

    now = T0 + timedelta(seconds=5 * BATCH)
    anchor = Ping(pings[0].lat, pings[0].lon, T0 - timedelta(seconds=5))
    screening = screen_pings(pings, anchor, now)
    trace = Trace.of(screening.accepted)
    far = Trace.of(screen_pings(off_route, None, now).accepted)
    fence = [FenceStop(s.stop_id, s.lat, s.lon) for s in route_stops]
    eta_stops = [EtaStop(s.stop_id, s.lat, s.lon) for s in route_stops]
    speed = update_speed(trace, SpeedState())
    last = screening.last_accepted or anchor
    runs = args.batches
    stages = [
        _time("screen_pings", runs, lambda: screen_pings(pings, anchor, now)),
        _time("Trace.of", runs, lambda: Trace.of(screening.accepted)),
        _time("evaluate_geofence", runs, lambda: evaluate_geofence(trace, fence, GeofenceState())),
        _time(
            "evaluate_deviation (on route)",
            runs,
            lambda: evaluate_deviation(trace, path, DeviationState()),
        ),
        _time("update_speed", runs, lambda: update_speed(trace, SpeedState())),
        _time(
            "estimate_etas",
            runs,
            lambda: estimate_etas(
                (last.lat, last.lon), last.recorded_at, eta_stops, current_speed_mps(speed), path
            ),
        ),
    ]
    print(
        f"{'sum of the stages':<34} {sum(stages) * 1e3:8.3f} ms/batch "
        f"{BATCH / sum(stages):>12,.0f} pings/s"
    )
    _time(
        "evaluate_deviation (all off route)",
        runs,
        lambda: evaluate_deviation(far, path, DeviationState()),
    )

    def whole() -> None:
        state = RouteState.from_json(RouteState(last_ping=anchor).to_json())
        evaluate_batch(pings, route_stops, path, state, now).state.to_json()

    _time("evaluate_batch + state JSON", runs, whole)


if __name__ == "__main__":
    main()
