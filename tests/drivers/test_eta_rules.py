"""Speed learning and ETAs: robust to lights and parking jitter, converging as the driver nears."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from gateway.drivers.rules.deviation import PlannedPath
from gateway.drivers.rules.eta import EtaStop, estimate_etas, eta_changed
from gateway.drivers.rules.geo import haversine_m
from gateway.drivers.rules.pings import Ping, screen_pings
from gateway.drivers.rules.speed import (
    DEFAULT_SPEED,
    SpeedState,
    current_speed_mps,
    update_speed,
)
from gateway.drivers.rules.trace import Trace
from tests.drivers.city import T0, Drive, batches, blocks, latlon, path_latlon

NOW = T0 + timedelta(hours=3)


def _learn(pings: list[Ping], size: int = 20) -> SpeedState:
    state, last = SpeedState(), None
    for batch in batches(pings, (size,)):
        screening = screen_pings(batch, last, NOW)
        last = screening.last_accepted
        state = SpeedState.from_json(update_speed(Trace.of(screening.accepted), state).to_json())
    return state


def test_the_learned_speed_is_the_moving_speed_despite_red_lights() -> None:
    drive = Drive((0, 0))
    for corner in blocks(("E", 5), ("N", 5), ("E", 5), ("N", 5))[1:]:
        drive.to(corner, speed_mps=10).wait(60)  # a red light at every turn
    assert current_speed_mps(_learn(drive.pings(seed=9))) == pytest.approx(10, rel=0.1)


def test_gps_jitter_while_parked_is_not_speed() -> None:
    parked = Drive((0, 0)).wait(1200).pings(seed=6, noise_m=8, interval_s=1)
    state = _learn(parked, size=100)
    assert state.average_mps is None
    assert current_speed_mps(state) == DEFAULT_SPEED.default_mps


def test_the_speed_is_clamped_to_city_bounds() -> None:
    highway = Drive((0, 0)).to((30_000, 0), speed_mps=33).pings(seed=1)
    assert current_speed_mps(_learn(highway)) == DEFAULT_SPEED.max_mps
    crawl = Drive((0, 0)).to((1200, 0), speed_mps=1.8).pings(seed=1, noise_m=0)
    assert current_speed_mps(_learn(crawl)) == DEFAULT_SPEED.min_mps


def _stops_on(
    drive: Drive, moves: Sequence[tuple[str, float]], service_s: Sequence[float]
) -> list[float]:
    """Drives to each corner in turn and serves a stop there; returns the arrival times (s)."""
    arrivals: list[float] = []
    for corner, wait_s in zip(blocks(*moves, start=drive.here)[1:], service_s, strict=True):
        drive.to(corner, speed_mps=drive_speed(len(arrivals)))
        arrivals.append(drive.now_s)
        drive.wait(wait_s)
    return arrivals


def drive_speed(leg: int) -> float:
    return (7.0, 11.0, 9.0, 8.0)[leg % 4]  # traffic changes from leg to leg


def test_etas_converge_as_the_driver_approaches() -> None:
    moves = [("E", 6), ("N", 4), ("E", 5), ("N", 6)]
    corners = blocks(*moves)
    path = PlannedPath(path_latlon(corners))
    drive = Drive((0, 0))
    service_s = [240, 300, 150, 0]  # the plan says 180 s each
    actual_s = _stops_on(drive, moves, service_s)
    completed_s = [a + s for a, s in zip(actual_s, service_s, strict=True)]
    stops = [EtaStop(f"s{i}", *latlon(*c)) for i, c in enumerate(corners[1:])]
    state, last, errors = SpeedState(), None, []
    for batch in batches(drive.pings(seed=12), (12,)):  # a batch a minute
        screening = screen_pings(batch, last, NOW)
        last = screening.last_accepted
        state = update_speed(Trace.of(screening.accepted), state)
        assert last is not None
        # a stop stays open until its delivery is recorded, after the service time
        done = sum(1 for c in completed_s if T0 + timedelta(seconds=c) <= last.recorded_at)
        if done == len(stops):
            break
        arrived = [T0 + timedelta(seconds=a) for a in actual_s]  # the app's "arrived" events
        open_stops = [
            replace(s, arrived_at=a if a <= last.recorded_at else None)
            for s, a in zip(stops[done:], arrived[done:], strict=True)
        ]
        speed = current_speed_mps(state)
        etas = estimate_etas((last.lat, last.lon), last.recorded_at, open_stops, speed, path)
        errors.append(abs((etas[-1].eta - (T0 + timedelta(seconds=actual_s[-1]))).total_seconds()))
    quarter = len(errors) // 4
    assert errors[-1] < 10.0
    assert max(errors[-quarter:]) < 60.0  # what is left: one stop's service time misjudged
    assert sum(errors[-quarter:]) < sum(errors[:quarter]) / 4


def test_legs_follow_the_path_or_the_crow_times_the_road_factor() -> None:
    corners = blocks(("E", 5), ("N", 5))
    path = PlannedPath(path_latlon(corners))
    start, end = latlon(*corners[0]), latlon(*corners[-1])
    stop = [EtaStop("s", *end)]
    on_path = estimate_etas(start, T0, stop, 10.0, path)[0]
    crow = haversine_m(*start, *end)
    assert on_path.distance_m == pytest.approx(path.length_m, rel=1e-6)
    assert on_path.eta == T0 + timedelta(seconds=path.length_m / 10)
    assert estimate_etas(start, T0, stop, 10.0)[0].distance_m == pytest.approx(crow * 1.3)
    behind = [EtaStop("back", *latlon(*corners[0]))]  # behind the driver on the path
    leg = estimate_etas(end, T0, behind, 10.0, path)[0].distance_m
    assert leg == pytest.approx(crow * 1.3)


def test_a_stops_service_time_delays_the_stops_after_it() -> None:
    a, b = latlon(0, 0), latlon(1000, 0)
    stops = [EtaStop("a", *a, service_s=240), EtaStop("b", *b)]
    first, second = estimate_etas(a, T0, stops, 10.0)
    assert first.eta == T0
    assert (second.eta - T0).total_seconds() == pytest.approx(240 + 1300 / 10, rel=1e-3)
    with pytest.raises(ValueError, match="speed"):
        estimate_etas(a, T0, stops, 0.0)


@pytest.mark.parametrize(
    ("reported", "new", "changed"),
    [
        (None, T0, True),
        (T0, T0 + timedelta(minutes=5), False),
        (T0, T0 + timedelta(minutes=5, seconds=1), True),
        (T0, T0 - timedelta(minutes=6), True),
    ],
)
def test_an_eta_change_is_news_past_five_minutes(
    reported: datetime | None, new: datetime, changed: bool
) -> None:
    assert eta_changed(reported, new) is changed
