"""Route deviation: a detour fires `off_route`, then `back_on_route`, once each; jitter nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest

from gateway.drivers.rules.deviation import (
    DeviationState,
    PathCache,
    PlannedPath,
    RouteDecision,
    RouteEvent,
    evaluate_deviation,
)
from gateway.drivers.rules.pings import Ping, screen_pings
from gateway.drivers.rules.trace import Trace
from tests.drivers.city import (
    BLOCK_M,
    T0,
    Drive,
    batches,
    blocks,
    latlon,
    path_latlon,
    ping_at,
)

NOW = T0 + timedelta(hours=3)
CORNERS = blocks(("E", 6), ("N", 5), ("E", 4))  # (0,0) (1206,0) (1206,1005) (2010,1005)
PATH = PlannedPath(path_latlon(CORNERS))


def _run(pings: Sequence[Ping], sizes: Sequence[int] = (500,)) -> list[RouteDecision]:
    state, last, decisions = DeviationState(), None, []
    for batch in batches(pings, sizes):
        screening = screen_pings(batch, last, NOW)
        last = screening.last_accepted
        found, state = evaluate_deviation(Trace.of(screening.accepted), PATH, state)
        state = DeviationState.from_json(state.to_json())
        decisions += found
    return decisions


def _detour_drive() -> Drive:
    """Along the path, then a detour three blocks east of the northbound avenue, then back."""
    drive = Drive(CORNERS[0]).to(CORNERS[1], (1206, 201), speed_mps=10)
    drive.to((1809, 201), (1809, 603), (1206, 603), speed_mps=10)  # > 250 m off for ~110 s
    return drive.to(CORNERS[2], CORNERS[3], speed_mps=10)


def test_on_route_with_noise_and_a_red_light_fires_nothing() -> None:
    drive = Drive(CORNERS[0]).to((600, 0), speed_mps=10).wait(60).to(*CORNERS[1:], speed_mps=10)
    assert _run(drive.pings(seed=4, noise_m=12)) == []


def test_a_detour_goes_off_route_once_after_90_s_and_comes_back_once() -> None:
    drive = _detour_drive()
    pings = drive.pings(seed=2)
    decisions = _run(pings, sizes=(13, 1, 40))
    assert [d.event for d in decisions] == [RouteEvent.OFF_ROUTE, RouteEvent.BACK_ON_ROUTE]
    distances = PATH.distances_m(
        np.array([p.lat for p in pings]), np.array([p.lon for p in pings])
    ).tolist()
    first_far = next(p.recorded_at for p, d in zip(pings, distances, strict=True) if d > 250)
    off, back = decisions
    assert timedelta(seconds=90) <= off.at - first_far < timedelta(seconds=95)
    assert off.distance_m > 250 and back.distance_m <= 150
    assert _run(pings) == _run(pings, sizes=(1,)) == decisions


def test_a_short_spike_off_the_path_fires_nothing() -> None:
    drive = Drive(CORNERS[0]).to(*CORNERS[1:], speed_mps=10)
    pings = drive.pings(seed=3)
    for i in range(40, 46):  # 30 s of fixes ~300 m north of the street
        pings[i] = ping_at(i * 50, 300, i * 5)
    assert _run(pings) == []


def test_a_trace_hugging_the_band_between_the_two_radii_does_not_flap() -> None:
    out = [ping_at(400 + i * 8, 320, i * 5) for i in range(30)]  # 320 m off for 150 s
    hugging = [ping_at(640 + i * 5, 200 + 40 * (i % 2), 150 + i * 5) for i in range(60)]
    decisions = _run([*out, *hugging])
    assert [d.event for d in decisions] == [RouteEvent.OFF_ROUTE]  # 200-240 m: still off


def test_inaccurate_fixes_far_away_are_not_trusted_for_deviation() -> None:
    pings = [ping_at(i * 40, 600, i * 5, accuracy_m=300) for i in range(60)]
    assert _run(pings) == []


def test_distance_along_the_path_grows_with_the_drive() -> None:
    assert PATH.length_m == pytest.approx(6 * BLOCK_M + 5 * BLOCK_M + 4 * BLOCK_M, rel=1e-3)
    pings = Drive(CORNERS[0]).to(*CORNERS[1:], speed_mps=10).pings(seed=5, noise_m=0)
    along = PATH.along_many_m(np.array([p.lat for p in pings]), np.array([p.lon for p in pings]))
    expected = [10.0 * i * 5 for i in range(len(pings))]
    assert along.tolist() == pytest.approx(expected, abs=PATH.length_m * 2e-3)
    assert PATH.along_m(*latlon(*CORNERS[-1])) == pytest.approx(PATH.length_m)


def test_paths_are_prepared_once_per_key_and_bad_paths_refused() -> None:
    cache = PathCache(max_paths=2)
    first = cache.get("route-1", path_latlon(CORNERS))
    assert cache.get("route-1", path_latlon(CORNERS)) is first
    cache.get("route-2", path_latlon(CORNERS[:2]))
    cache.get("route-3", path_latlon(CORNERS[:3]))
    assert cache.get("route-1", path_latlon(CORNERS)) is not first  # evicted: least recent
    for bad in ([[41.0, -87.0]], [[41.0, -87.0], [41.0, -87.0]], [[41.0, float("nan")]] * 2):
        with pytest.raises(ValueError, match="path"):
            PlannedPath(bad)
