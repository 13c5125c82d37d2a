"""The simulated day itself, without a gateway: seeded, realistic driving, GPS noise of every
kind, the detour and the late stop where the story puts them, and the app's uploads."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

from shapely.geometry import LineString, Point

from gateway.simulate.city import latlon
from gateway.simulate.gps import FixKind
from gateway.simulate.play import NEAR_STOP_M, Act, driver_actions
from gateway.simulate.scenario import DayPlan, DriverPlan, Outcome, Story, build_day

DAY = build_day(7)


def _driver(story: Story, day: DayPlan = DAY) -> DriverPlan:
    return next(d for d in day.drivers if d.story is story)


def _off_path_m(driver: DriverPlan) -> list[tuple[float, float]]:
    """(t_s, metres from the planned path) of the van, from departure to the last stop."""
    path = LineString(driver.path)
    last = driver.stops[-1].leave_s
    return [
        (s.t_s, path.distance(Point(s.x, s.y)))
        for s in driver.samples
        if driver.depart_s <= s.t_s <= last
    ]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[0] - b[0]) * 111_195
    east = (a[1] - b[1]) * 111_195 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    assert build_day(7) == DAY
    assert build_day(8) != DAY
    assert build_day(7, 1) != DAY  # the next round is elsewhere in the city
    assert [d.name for d in build_day(8).drivers] == [d.name for d in DAY.drivers]


def test_vans_drive_at_city_speeds_and_never_jump() -> None:
    for driver in DAY.drivers:
        samples = driver.samples
        steps = [
            math.dist((a.x, a.y), (b.x, b.y)) / (b.t_s - a.t_s)
            for a, b in itertools.pairwise(samples)
        ]
        assert max(steps) <= 12.0, driver.name  # 43 km/h at most, in the city
        moving = [s for s in steps if s > 1.5]
        assert 6.0 <= sum(moving) / len(moving) <= 11.5, driver.name
        stopped = sum(1 for s in steps if s == 0)
        assert stopped > 4 * 60, driver.name  # doors, red lights: vans stand still a lot


def test_gps_has_noise_poor_fixes_outliers_and_resends() -> None:
    kinds = Counter(f.kind for d in DAY.drivers for f in d.fixes)
    assert kinds[FixKind.POOR] >= 10 and kinds[FixKind.OUTLIER] >= 3 and kinds[FixKind.RESENT] >= 3
    assert kinds[FixKind.GOOD] > 0.9 * sum(kinds.values())
    for driver in DAY.drivers:
        truth = {s.t_s: latlon((s.x, s.y)) for s in driver.samples}
        for fix in driver.fixes:
            error = _metres((fix.lat, fix.lon), truth[fix.t_s])
            if fix.kind is FixKind.GOOD:
                assert error < 25 and fix.accuracy_m <= 12
            elif fix.kind is FixKind.OUTLIER:
                assert error > 350 and fix.accuracy_m <= 10  # wrong, and sure of it
            elif fix.kind is FixKind.POOR:
                assert fix.accuracy_m > 50  # the gateway will not trust it


def test_only_luis_leaves_the_planned_path_far_and_long_enough_to_be_off_route() -> None:
    for driver in DAY.drivers:
        away = _off_path_m(driver)
        if driver.story is not Story.DETOUR:
            assert max(m for _, m in away) < 1.0, driver.name
            continue
        far = [t for t, m in away if m > 250]
        assert far and far[-1] - far[0] > 90 + 60  # well past the 90 s the gateway waits
        assert max(m for _, m in away) > 550
        assert all(m < 1.0 for t, m in away if t > far[-1] + 60)  # back on the path
        assert driver.stops[1].leave_s < far[0] < far[-1] < driver.stops[2].arrive_s


def test_priya_misses_only_her_last_promise_and_everyone_else_keeps_theirs() -> None:
    for driver in DAY.drivers:
        for stop in driver.stops:
            late = driver.story is Story.LATE and stop is driver.stops[-1]
            if late:
                assert 4 * 60 <= stop.arrive_s - stop.promised_by_s <= 6 * 60
            else:
                assert stop.promised_by_s - stop.arrive_s >= 40 * 60, stop.key
    outcomes = Counter((d.story, s.outcome) for d in DAY.drivers for s in d.stops)
    assert outcomes[(Story.PROOF, Outcome.PROOF)] == 1
    assert outcomes[(Story.FAILED, Outcome.FAILED)] == 1
    assert sum(n for (_, o), n in outcomes.items() if o is Outcome.DELIVERED) == 13


def test_the_app_uploads_every_fix_once_in_batches_some_late_but_never_near_a_stop() -> None:
    late_batches = 0
    for driver in DAY.drivers:
        actions = driver_actions(driver, random.Random(1))  # noqa: S311 - a simulation
        assert [a.t_s for a in actions] == sorted(a.t_s for a in actions)
        batches = [a for a in actions if a.act is Act.PINGS]
        sent = [f for a in batches for f in a.fixes]
        assert sorted(sent, key=lambda f: f.t_s) == [f for f in driver.fixes if f.t_s >= 0]
        assert max(len(a.fixes) for a in batches) <= 500
        stops = [latlon(s.point) for s in driver.stops]
        for earlier, later in itertools.pairwise(batches):
            if later.fixes[0].t_s < earlier.fixes[-1].t_s:  # sent after a newer batch
                late_batches += 1
                assert all(_metres((f.lat, f.lon), s) > NEAR_STOP_M - 30 for f in later.fixes
                           for s in stops)  # fmt: skip
        for stop in driver.stops:
            mine = [a.act for a in actions if a.stop is stop]
            assert mine[:2] == [Act.ARRIVED, Act.OUTCOME]
    assert late_batches >= 1
