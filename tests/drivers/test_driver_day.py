"""A driver's afternoon through `evaluate_batch`: every decision once, at its moment, none on noise.

Four stops on a Chicago grid; noisy GPS with GPS jumps, null-island fixes and a stretch of poor
accuracy; a red light; a detour three blocks off the avenue that makes the last stop late; batches
of all sizes, shuffled inside, one delivered late; the state through JSON between batches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from gateway.drivers.rules.batch import BatchOutcome, RouteState, RouteStop, evaluate_batch
from gateway.drivers.rules.deviation import PlannedPath, RouteEvent
from gateway.drivers.rules.geofence import FenceEvent
from gateway.drivers.rules.lateness import LateReason
from gateway.drivers.rules.pings import Ping, Refusal
from tests.drivers.city import T0, Drive, blocks, latlon, path_latlon

CORNERS = blocks(("E", 6), ("N", 4), ("E", 5), ("N", 6))
SERVICE_S = 200.0


@dataclass
class Day:
    drive: Drive = field(default_factory=lambda: Drive(CORNERS[0]))
    arrived_s: list[float] = field(default_factory=list)
    detour_s: tuple[float, float] = (0.0, 0.0)

    def serve(self, x: float, y: float) -> None:
        self.drive.to((x, y), speed_mps=9)
        self.arrived_s.append(self.drive.now_s)
        self.drive.wait(SERVICE_S)


def _afternoon() -> Day:
    day = Day()
    day.drive.to((600, 0), speed_mps=9).wait(45)  # a red light
    day.serve(*CORNERS[1])
    day.serve(*CORNERS[2])
    day.serve(*CORNERS[3])
    x, y = CORNERS[3]
    day.drive.to((x, y + 201), (x + 603, y + 201), speed_mps=9)
    start = day.drive.now_s
    day.drive.to((x + 603, y + 603), (x, y + 603), speed_mps=9)
    day.detour_s = (start, day.drive.now_s)
    day.serve(*CORNERS[4])
    return day


def _noisy(pings: list[Ping], rng: np.random.Generator) -> tuple[list[Ping], Counter[Refusal]]:
    injected: Counter[Refusal] = Counter()
    for i in range(30, len(pings), 97):
        pings[i] = replace(pings[i], lat=pings[i].lat + 0.03)  # a 3 km GPS jump
        injected[Refusal.IMPLAUSIBLE_SPEED] += 1
    for i in (17, 211):
        pings[i] = replace(pings[i], lat=0.0, lon=0.0)
        injected[Refusal.ZERO_COORDINATES] += 1
    for i in range(120, 140):  # an urban canyon: poor fixes, kept for the map only
        off_m = rng.normal(0, 60, 2)
        pings[i] = replace(
            pings[i], lat=pings[i].lat + off_m[0] / 111_000, lon=pings[i].lon, accuracy_m=150.0
        )
    return pings, injected


def _deliveries(pings: list[Ping], rng: np.random.Generator) -> list[list[Ping]]:
    batches, i = [], 0
    while i < len(pings):
        n = int(rng.choice([1, 2, 5, 12, 30]))
        batch = pings[i : i + n]
        batches.append([batch[j] for j in rng.permutation(len(batch))])
        i += n
    batches[5], batches[6] = batches[6], batches[5]  # one batch arrives after the next one
    return batches


def _run_day() -> tuple[Day, list[tuple[datetime, BatchOutcome]], Counter[Refusal], datetime]:
    day = _afternoon()
    rng = np.random.default_rng(2026)
    pings, injected = _noisy(day.drive.pings(seed=7), rng)
    stops_xy = CORNERS[1:]
    promised = T0 + timedelta(seconds=day.arrived_s[-1] - 90)  # the detour costs the last one
    relaxed = T0 + timedelta(hours=2)
    stops = [
        RouteStop(f"s{i}", *latlon(*xy), promised_by=promised if i == 3 else relaxed)
        for i, xy in enumerate(stops_xy)
    ]
    path = PlannedPath(path_latlon(CORNERS))
    state, outcomes = RouteState(), []
    for batch in _deliveries(pings, rng):
        now = max(p.recorded_at for p in batch) + timedelta(seconds=2)
        served_s = (now - T0).total_seconds() - SERVICE_S
        remaining = [s for s, a in zip(stops, day.arrived_s, strict=True) if a > served_s]
        outcome = evaluate_batch(batch, remaining, path, state, now)
        state = RouteState.from_json(outcome.state.to_json())
        outcomes.append((now, outcome))
    return day, outcomes, injected, promised


def test_an_afternoon_of_pings_fires_each_decision_once_at_its_moment() -> None:
    day, outcomes, injected, promised = _run_day()
    refused = Counter(r.reason for _, o in outcomes for r in o.screening.refused)
    assert refused == injected

    fences = [d for _, o in outcomes for d in o.fences if d.event is FenceEvent.ARRIVING]
    assert [d.stop_id for d in fences] == ["s0", "s1", "s2", "s3"]
    for decision, arrived_s in zip(fences, day.arrived_s, strict=True):  # 300 m out at 9 m/s
        assert 0 < arrived_s - (decision.at - T0).total_seconds() < 300 / 9 + 10

    route = [d for _, o in outcomes for d in o.route]
    assert [d.event for d in route] == [RouteEvent.OFF_ROUTE, RouteEvent.BACK_ON_ROUTE]
    start, end = (T0 + timedelta(seconds=s) for s in day.detour_s)
    assert start < route[0].at < route[1].at < end + timedelta(seconds=60)

    told = [d.stop_id for _, o in outcomes for d in o.stops_away]
    assert sorted(told) == ["s0", "s1", "s2", "s3"]

    late = [(now, s.stop_id, s.decision) for now, o in outcomes for s in o.late]
    assert [stop_id for _, stop_id, _ in late][:1] == ["s3"]
    assert {stop_id for _, stop_id, _ in late} == {"s3"}
    first_now, _, first = late[0]
    assert first.reason is LateReason.ETA_AFTER_PROMISE and first_now < promised  # heads-up
    assert [d.reason for _, _, d in late].count(LateReason.PROMISE_PASSED) == 1

    changes = Counter(e.stop_id for _, o in outcomes for e in o.eta_changes)
    assert set(changes) == {"s0", "s1", "s2", "s3"}
    assert max(changes.values()) <= 6  # news, not every batch
    assert len(outcomes) > 20
