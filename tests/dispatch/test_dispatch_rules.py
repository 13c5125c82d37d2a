"""The console's pure decisions: days in the dispatcher's zone, lateness, driver states, figures,
how alerts read, and thinning a trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.dispatch.model import DriverState, Position, RouteCard, StopCard
from gateway.dispatch.rules import (
    RawAlert,
    alert_line,
    day_of,
    driver_state,
    figures,
    stop_is_late,
    valid_timezone,
)
from gateway.dispatch.trail import thin
from gateway.dispatch.view import distance_text

NOW = datetime(2026, 3, 16, 18, 0, tzinfo=UTC)  # 13:00 in Chicago (CDT)
CHICAGO = ZoneInfo("America/Chicago")
STOP = StopCard("shp_1", "1Z1", 0, "planned", 41.9, -87.6, "350 W Ohio St, Chicago, IL",
                None, NOW + timedelta(hours=1), None, False)  # fmt: skip


def _stop(**changes: object) -> StopCard:
    return replace(STOP, **changes)  # type: ignore[arg-type]


def test_a_day_is_midnight_to_midnight_where_the_dispatcher_is() -> None:
    day = day_of(NOW, "America/Chicago", None)
    assert day.local.isoformat() == "2026-03-16"
    assert day.start == datetime(2026, 3, 16, 5, 0, tzinfo=UTC)
    assert datetime(2026, 3, 17, 4, 59, tzinfo=UTC) in day
    assert datetime(2026, 3, 17, 5, 0, tzinfo=UTC) not in day
    assert day_of(NOW, "Asia/Tokyo", None).local.isoformat() == "2026-03-17"
    assert day_of(NOW, "UTC", "2026-03-01").local.isoformat() == "2026-03-01"
    assert day_of(NOW, "UTC", "2027-01-01").local.isoformat() == "2026-03-16"  # not ahead
    assert day_of(NOW, "UTC", "16/03/2026").local.isoformat() == "2026-03-16"


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "x" * 80, "/UTC"])
def test_an_unknown_time_zone_is_utc(name: str) -> None:
    assert valid_timezone(name) == "UTC"
    assert valid_timezone("Europe/Lisbon") == "Europe/Lisbon"


def test_a_stop_is_late_by_its_eta_its_delivery_or_the_clock() -> None:
    promise = NOW + timedelta(hours=1)
    assert not stop_is_late(_stop(eta=promise), NOW)
    assert stop_is_late(_stop(eta=promise + timedelta(seconds=1)), NOW)
    assert stop_is_late(_stop(), promise + timedelta(seconds=1))  # the promise passed
    assert not stop_is_late(_stop(state="done", done_at=promise), NOW)
    assert stop_is_late(_stop(state="done", done_at=promise + timedelta(minutes=1)), NOW)
    assert not stop_is_late(_stop(state="failed", done_at=promise + timedelta(hours=1)), NOW)
    assert not stop_is_late(_stop(promised_by=None, eta=NOW + timedelta(days=1)), NOW)


def test_a_drivers_state_follows_route_position_and_stops() -> None:
    seen = Position(41.9, -87.6, NOW - timedelta(minutes=1), 90.0, 8.0, True)
    route = RouteCard("rte_1", "active", False, None, [STOP])
    assert driver_state(None, seen, NOW) is DriverState.IDLE
    assert driver_state(replace(route, state="planned"), None, NOW) is DriverState.WAITING
    assert driver_state(replace(route, state="done"), seen, NOW) is DriverState.FINISHED
    assert driver_state(route, None, NOW) is DriverState.OFFLINE
    stale = replace(seen, recorded_at=NOW - timedelta(minutes=11))
    assert driver_state(route, stale, NOW) is DriverState.OFFLINE
    assert driver_state(replace(route, off_route=True), seen, NOW) is DriverState.OFF_ROUTE
    at_door = replace(route, stops=[_stop(state="arrived")])
    assert driver_state(at_door, seen, NOW) is DriverState.AT_STOP
    assert driver_state(route, seen, NOW) is DriverState.DRIVING


def test_figures_count_the_days_deliveries_in_local_hours() -> None:
    day = day_of(NOW, "America/Chicago", None)
    promise = NOW + timedelta(hours=1)
    stops = [
        _stop(state="done", done_at=NOW),  # 13:00 local, on time
        _stop(state="done", done_at=promise + timedelta(minutes=5)),  # 14:05, late
        _stop(state="done", done_at=NOW, promised_by=None),  # nothing to measure
        _stop(state="failed", done_at=NOW),
        _stop(state="done", done_at=NOW - timedelta(days=1)),  # yesterday
        _stop(state="active"),
    ]
    found = figures(stops, [("drv_a", 5), ("drv_a", 2), ("drv_b", 4), (None, 1)],
                    {"drv_a": "Ana", "drv_b": "Bo"}, day)  # fmt: skip
    assert (found.deliveries, found.failed, found.on_time, found.measured) == (3, 1, 1, 2)
    assert found.on_time_rate == 0.5
    assert found.per_hour[13] == 2 and found.per_hour[14] == 1 and sum(found.per_hour) == 3
    assert [(r.name, r.average, r.count) for r in found.ratings] == [("Ana", 3.5, 2), ("Bo", 4, 1)]
    assert found.average_rating == pytest.approx(11 / 3)
    empty = figures([], [], {}, day)
    assert empty.on_time_rate is None and empty.average_rating is None


def _alert(kind: str, **data: object) -> RawAlert:
    return RawAlert("alr_1", kind, NOW, "drv_a", "shp_1", {"tracking_number": "1Z1", **data})


def test_alerts_read_as_a_dispatcher_would_say_them() -> None:
    names, addresses = {"drv_a": "Ana Acme"}, {"shp_1": "350 W Ohio St, Chicago, IL"}

    def text(alert: RawAlert) -> tuple[str, str, str]:
        line = alert_line(alert, names, addresses, CHICAGO)
        return line.title, line.detail, line.tone

    late = _alert("late", reason="eta_after_promise", promised_by="2026-03-16T18:30:00Z",
                  eta="2026-03-16T18:41:10Z")  # fmt: skip
    assert text(late) == (
        "Running late: 350 W Ohio St",
        "Ana Acme · ETA 13:42, 12 min after the promised 13:30",
        "warning",
    )
    passed = _alert("late", reason="promise_passed", promised_by="2026-03-16T18:30:00Z")
    assert text(passed)[1] == "Ana Acme · promised by 13:30, not delivered yet"
    assert text(_alert("off_route", distance_m=412.4)) == (
        "Ana Acme is off route",
        "412 m from the planned path",
        "problem",
    )
    assert text(_alert("back_on_route"))[0] == "Ana Acme is back on route"
    assert text(_alert("failed_attempt", note="Dog in the yard"))[:2] == (
        "Failed attempt: 350 W Ohio St",
        "Ana Acme · Dog in the yard",
    )
    assert text(_alert("low_rating", score=1, comment=""))[:2] == (
        "1★ rating for Ana Acme",
        "350 W Ohio St · No comment",
    )
    unknown = alert_line(replace(_alert("late"), shipment_id=None, driver_id=None), {}, {}, CHICAGO)
    assert unknown.title == "Running late: 1Z1" and unknown.detail.startswith("A driver")


def test_a_trail_is_thinned_evenly_and_keeps_its_newest_point() -> None:
    points = [[float(i), 0.0] for i in range(2000)]
    thinned = thin(points, 800)
    assert len(thinned) == 800 and thinned[0] == [0.0, 0.0] and thinned[-1] == [1999.0, 0.0]
    assert thin(points[:5], 800) == points[:5]


def test_a_drivers_distance_to_the_next_stop_reads_in_metres_then_kilometres() -> None:
    here = Position(STOP.lat, STOP.lon, NOW, None, None, True)
    assert distance_text(replace(here, lat=STOP.lat + 0.00315), STOP) == "350 m"
    assert distance_text(replace(here, lat=STOP.lat + 0.0108), STOP) == "1.2 km"
