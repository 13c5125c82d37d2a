"""The live card's pure rules: who sees the driver, stale, distances, the path, the ETA words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.live import rules
from gateway.live.rules import Position
from gateway.tracking.page_text import PageLocale

NOW = datetime(2026, 3, 16, 14, 42, 5, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("route_active", "stop_open", "stops_before", "shown"),
    [
        (True, True, 0, True),  # heading to this door
        (True, True, 1, False),  # another customer's door first
        (False, True, 0, False),  # the day has not started
        (True, False, 0, False),  # delivered or failed
    ],
)
def test_the_driver_is_shown_only_on_the_way_to_this_stop(
    route_active: bool, stop_open: bool, stops_before: int, shown: bool
) -> None:
    assert rules.shows_driver(route_active, stop_open, stops_before) is shown


def test_stale_after_two_minutes() -> None:
    assert not rules.is_stale(NOW - timedelta(seconds=120), NOW)
    assert rules.is_stale(NOW - timedelta(seconds=121), NOW)


@pytest.mark.parametrize(
    ("tag", "meters", "text"),
    [
        ("en-US", 1400, "0.9 mi"),
        ("en-US", 60, "200 ft"),
        ("en-GB", 3200, "2.0 mi"),
        ("es-ES", 1400, "1,4 km"),
        ("es-MX", 320, "300 m"),
        ("en-IE", 20, "50 m"),
    ],
)
def test_distances_in_the_customers_units(tag: str, meters: float, text: str) -> None:
    assert rules.distance_text(meters, PageLocale(tag)) == text


def test_the_label_says_how_far_and_when_in_the_recipients_zone() -> None:
    position = Position(35.218, -80.853, 90.0, NOW - timedelta(seconds=30))
    fresh = rules.driver_json(position, (35.2271, -80.8431), PageLocale("en-US"), NY, NOW)
    assert fresh["label"] == "Your driver is 0.8 mi away · seen 10:41\u202fAM"
    later = NOW + timedelta(hours=1)
    stale = rules.driver_json(position, None, PageLocale("es-ES"), NY, later)
    assert stale["label"] == "Tu repartidor fue visto por última vez a las 10:41"
    assert stale["stale"] is True


def test_the_path_follows_the_plan_from_the_driver_to_the_door() -> None:
    plan = [[0.0, 0.0], [0.0, 0.01], [0.01, 0.01], [0.01, 0.02], [0.02, 0.02]]
    path = rules.remaining_path(plan, (0.0001, 0.0099), (0.0101, 0.0199))
    assert path == [[0.0001, 0.0099], [0.0, 0.01], [0.01, 0.01], [0.01, 0.02], [0.0101, 0.0199]]


def test_a_driver_off_the_plan_gets_a_straight_line() -> None:
    plan = [[0.0, 0.0], [0.0, 0.01]]
    assert rules.remaining_path(plan, (0.5, 0.5), (0.0, 0.01)) == [[0.5, 0.5], [0.0, 0.01]]
    assert rules.remaining_path(None, (0.5, 0.5), (0.0, 0.01)) == [[0.5, 0.5], [0.0, 0.01]]


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (1, "Arriving in a few minutes"),
        (12, "Arriving in about 12 min"),
        (90, "Arriving around 12:12\u202fPM"),
    ],
)
def test_eta_words(minutes: int, text: str) -> None:
    eta = NOW + timedelta(minutes=minutes)
    assert rules.eta_text(eta, PageLocale("en-US"), NY, NOW) == text


def test_a_published_position_is_read_or_refused() -> None:
    found = Position.from_json({"lat": 1, "lon": 2, "recorded_at": "2026-03-16T14:42:05Z"})
    assert found == Position(1.0, 2.0, None, NOW)
    assert Position.from_json({"lat": 1, "lon": 2, "recorded_at": "2026-03-16T14:42:05"}) is None
    assert Position.from_json({"lat": "x"}) is None
