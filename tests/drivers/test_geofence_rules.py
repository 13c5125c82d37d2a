"""Geofence: `arriving` once per stop at the right moment, never on jitter or a lone wild ping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from gateway.drivers.rules.geo import haversine_m
from gateway.drivers.rules.geofence import (
    FenceDecision,
    FenceEvent,
    FenceStop,
    GeofenceState,
    StopsAwayState,
    evaluate_geofence,
    stops_away,
)
from gateway.drivers.rules.pings import Ping, screen_pings
from gateway.drivers.rules.trace import Trace
from tests.drivers.city import T0, Drive, batches, latlon, ping_at

NOW = T0 + timedelta(hours=3)


def _stop(stop_id: str, x: float, y: float) -> FenceStop:
    return FenceStop(stop_id, *latlon(x, y))


def _run(
    pings: Sequence[Ping], stops: Sequence[FenceStop], sizes: Sequence[int] = (500,)
) -> list[FenceDecision]:
    """Batch by batch, the state through JSON in between, as the gateway will do it."""
    state, last, decisions = GeofenceState(), None, []
    for batch in batches(pings, sizes):
        screening = screen_pings(batch, last, NOW)
        last = screening.last_accepted
        found, state = evaluate_geofence(Trace.of(screening.accepted), stops, state)
        state = GeofenceState.from_json(state.to_json())
        decisions += found
    return decisions


def _edge_jitter(seed: int) -> list[Ping]:
    """Parked for ten minutes right on the 300 m edge of the stop at (0, 0), GPS wandering."""
    rng = np.random.default_rng(seed)
    radii = 300 + rng.normal(0, 15, 120)
    return [ping_at(float(r), 0, 60 + i * 5) for i, r in enumerate(radii)]


def test_a_jittery_trace_on_the_edge_arrives_once_and_never_departs() -> None:
    pings = _edge_jitter(seed=5)
    inside = [haversine_m(p.lat, p.lon, *latlon(0, 0)) <= 300 for p in pings]
    first_pair = next(i for i in range(1, len(inside)) if inside[i - 1] and inside[i])
    decisions = _run(pings, [_stop("s1", 0, 0)], sizes=(7, 1, 30, 3))
    assert decisions == [FenceDecision(FenceEvent.ARRIVING, "s1", pings[first_pair].recorded_at)]
    assert sum(inside) > 20  # the trace really did cross the edge again and again


def test_the_batching_does_not_change_the_decisions() -> None:
    pings = _edge_jitter(seed=8)
    stops = [_stop("s1", 0, 0)]
    assert _run(pings, stops, sizes=(1,)) == _run(pings, stops) == _run(pings, stops, (2, 9))


def test_a_single_wild_ping_inside_is_not_an_arrival() -> None:
    passing = [ping_at(-1000 + i * 50, 400, i * 5) for i in range(41)]  # 400 m north, E-bound
    passing[20] = ping_at(0, 150, 100)  # one fix 250 m off the road, inside the fence
    assert screen_pings(passing, None, NOW).refused == ()  # plausible enough to be accepted
    assert _run(passing, [_stop("s1", 0, 0)]) == []


def test_a_streak_does_not_survive_a_time_when_the_stop_was_not_watched() -> None:
    stops = [_stop("s1", 0, 0), _stop("s2", 100, 0)]
    one_inside = Trace.of(screen_pings([ping_at(50, 0, 0)], None, NOW).accepted)
    decisions, state = evaluate_geofence(one_inside, stops[1:], GeofenceState())
    assert decisions == [] and state.fences[0].streak == 1
    _, state = evaluate_geofence(one_inside, stops, state)  # s1 inserted before s2
    again = Trace.of(screen_pings([ping_at(60, 0, 10)], None, NOW).accepted)
    decisions, _ = evaluate_geofence(again, stops[1:], state)
    assert decisions == []  # one ping inside since s2 was watched again: not yet


def test_inaccurate_pings_inside_do_not_count() -> None:
    pings = [ping_at(0, 0, i * 5, accuracy_m=200) for i in range(20)]
    assert _run(pings, [_stop("s1", 0, 0)]) == []


def test_a_drive_arrives_at_each_stop_once_in_order_as_it_enters_the_radius() -> None:
    stops_xy = {"a": (300.0, 15.0), "b": (1206.0, 500.0), "c": (900.0, -20.0)}
    stops = [_stop(k, *xy) for k, xy in stops_xy.items()]
    drive = Drive((0, 0)).to((300, 0), speed_mps=9).wait(120)
    drive.to((1206, 0), (1206, 500), speed_mps=9).wait(120)  # past c, but b comes first
    drive.to((1206, 0), (900, 0), speed_mps=9).wait(120)
    pings = drive.pings(seed=1)
    state, last = GeofenceState(), None
    arrivals: list[FenceDecision] = []
    for batch in batches(pings, (10,)):
        screening = screen_pings(batch, last, NOW)
        last = screening.last_accepted
        remaining = [s for s in stops if s.stop_id not in {d.stop_id for d in arrivals}]
        found, state = evaluate_geofence(Trace.of(screening.accepted), remaining, state)
        arrivals += found  # the driver delivers at once: the stop leaves the remaining list
    assert [(d.event, d.stop_id) for d in arrivals] == [
        (FenceEvent.ARRIVING, "a"),
        (FenceEvent.ARRIVING, "b"),
        (FenceEvent.ARRIVING, "c"),
    ]
    previous = T0
    for decision in arrivals:  # each at the second consecutive ping inside, once it was watched
        stop = stops[["a", "b", "c"].index(decision.stop_id)]
        assert decision.at == _second_inside(pings, stop, after=previous)
        previous = decision.at
    assert _second_inside(pings, stops[2], after=T0) < arrivals[1].at  # c was passed earlier


def _second_inside(pings: list[Ping], stop: FenceStop, after: datetime) -> datetime:
    inside = [haversine_m(p.lat, p.lon, stop.lat, stop.lon) <= 300 for p in pings]
    return next(
        p.recorded_at
        for i, p in enumerate(pings)
        if p.recorded_at > after and inside[i] and inside[i - 1]
    )


def test_leaving_an_open_stop_departs_once_beyond_the_exit_radius() -> None:
    parked = [ping_at(10, 0, i * 5) for i in range(10)]
    leaving = [ping_at(20 + i * 40, 0, 50 + i * 5) for i in range(1, 30)]
    decisions = _run([*parked, *leaving], [_stop("s1", 0, 0)])
    assert [d.event for d in decisions] == [FenceEvent.ARRIVING, FenceEvent.DEPARTED]
    departed_at = next(p for p in leaving if haversine_m(p.lat, p.lon, *latlon(0, 0)) > 450)
    assert decisions[1].at == departed_at.recorded_at + timedelta(seconds=5)  # second ping out


def test_n_stops_away_tells_each_customer_once() -> None:
    route = ["a", "b", "c", "d", "e"]
    told, state = [], StopsAwayState()
    for done in range(len(route)):
        decisions, state = stops_away(route[done:], state, n=2)
        state = StopsAwayState.from_json(state.to_json())
        told.append([(d.stop_id, d.stops_away) for d in decisions])
        again, _ = stops_away(route[done:], state, n=2)
        assert again == []
    assert told == [[("a", 0), ("b", 1), ("c", 2)], [("d", 2)], [("e", 2)], [], []]
