"""Ping screening: impossible pings are refused with a reason, the rest of the batch goes on."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from gateway.drivers.rules.pings import MAX_BATCH_PINGS, Ping, Refusal, screen_pings
from tests.drivers.city import T0, Drive, blocks, latlon, ping_at

NOW = T0 + timedelta(hours=1)


def _reasons(pings: list[Ping], last: Ping | None = None) -> dict[int, Refusal]:
    return {r.index: r.reason for r in screen_pings(pings, last, NOW).refused}


def test_each_impossible_ping_is_refused_and_the_good_ones_are_kept() -> None:
    good = [ping_at(0, 0, 0), ping_at(40, 0, 5), ping_at(80, 0, 10)]
    bad = [
        Ping(math.nan, -87.6, T0 + timedelta(seconds=6)),
        Ping(91.0, -87.6, T0 + timedelta(seconds=6)),
        Ping(41.8, -181.0, T0 + timedelta(seconds=6)),
        Ping(0.0, 0.0, T0 + timedelta(seconds=6)),
        ping_at(50, 0, 3600 + 600),  # ten minutes after "now"
        ping_at(50, 0, -25 * 3600),  # a day and an hour before
        ping_at(40, 0, 5),  # the same ping again
        ping_at(3000, 0, 7),  # 2.9 km in 2 s
    ]
    batch = good[:2] + bad + good[2:]
    screening = screen_pings(batch, None, NOW)
    assert [a.index for a in screening.accepted] == [0, 1, len(batch) - 1]
    assert [r.reason for r in screening.refused] == [
        Refusal.BAD_COORDINATES,
        Refusal.BAD_COORDINATES,
        Refusal.BAD_COORDINATES,
        Refusal.ZERO_COORDINATES,
        Refusal.FUTURE_TIME,
        Refusal.TOO_OLD,
        Refusal.DUPLICATE,
        Refusal.IMPLAUSIBLE_SPEED,
    ]
    assert screening.last_accepted == good[2]


def test_a_phone_clock_slightly_ahead_is_tolerated() -> None:
    ahead = ping_at(0, 0, 3600 + 90)
    assert screen_pings([ahead], None, NOW).refused == ()


def test_out_of_order_pings_are_placed_by_time_and_keep_their_batch_index() -> None:
    pings = [ping_at(x * 10, 0, x) for x in range(10)]
    shuffled = [pings[i] for i in np.random.default_rng(3).permutation(len(pings))]
    screening = screen_pings(shuffled, None, NOW)
    assert [a.ping for a in screening.accepted] == pings
    assert all(shuffled[a.index] == a.ping for a in screening.accepted)


def test_a_late_ping_is_checked_against_its_neighbour_in_time() -> None:
    anchor = ping_at(1000, 0, 100)
    fine_late = ping_at(900, 0, 90)  # 100 m in 10 s before the anchor
    wild_late = ping_at(0, 0, 95)  # 1 km in 5 s
    screening = screen_pings([wild_late, fine_late], anchor, NOW)
    assert [a.ping for a in screening.accepted] == [fine_late]
    assert _reasons([wild_late, fine_late], anchor) == {0: Refusal.IMPLAUSIBLE_SPEED}
    assert screening.last_accepted == anchor  # a late ping never becomes the newest


def test_a_gps_jump_in_a_noisy_drive_is_refused_and_nothing_else() -> None:
    drive = Drive((0, 0)).to(*blocks(("E", 12), ("N", 8))[1:], speed_mps=12)
    pings = drive.pings(seed=11, noise_m=8, interval_s=1)[:300]
    jump = Ping(*latlon(2500, 1800), pings[150].recorded_at + timedelta(milliseconds=500))
    screening = screen_pings([*pings, jump], pings[0], NOW)
    assert [(r.index, r.reason) for r in screening.refused] == [
        (0, Refusal.DUPLICATE),  # the anchor itself, sent again
        (300, Refusal.IMPLAUSIBLE_SPEED),
    ]


def test_a_wild_first_ping_does_not_become_the_reference() -> None:
    wild = ping_at(5000, 5000, 0)
    rest = [ping_at(x * 50, 0, 5 + x * 5) for x in range(6)]
    screening = screen_pings([wild, *rest], None, NOW)
    assert _reasons([wild, *rest]) == {0: Refusal.IMPLAUSIBLE_SPEED}
    assert [a.ping for a in screening.accepted] == rest


def test_a_jump_within_the_reported_accuracy_is_noise_not_speed() -> None:
    a = ping_at(0, 0, 0, accuracy_m=60)
    b = ping_at(150, 0, 1, accuracy_m=60)  # 150 m in 1 s, but both fixes are +-60 m
    assert screen_pings([a, b], None, NOW).refused == ()


def test_an_inaccurate_ping_is_kept_for_the_map_but_not_trusted() -> None:
    pings = [ping_at(0, 0, 0), ping_at(30, 0, 5, accuracy_m=120), ping_at(60, 0, 10, None)]
    trusted = [a.trusted for a in screen_pings(pings, None, NOW).accepted]
    assert trusted == [True, False, True]  # no accuracy reported: trusted by default


def test_the_anchor_resent_or_a_second_fix_at_the_same_instant() -> None:
    anchor = ping_at(0, 0, 0)
    elsewhere = ping_at(500, 0, 0)
    assert _reasons([anchor, elsewhere], anchor) == {
        0: Refusal.DUPLICATE,
        1: Refusal.IMPLAUSIBLE_SPEED,
    }


def test_batches_over_the_limit_are_the_callers_error() -> None:
    with pytest.raises(ValueError, match="500"):
        screen_pings([ping_at(0, 0, i) for i in range(MAX_BATCH_PINGS + 1)], None, NOW)


def test_ping_times_must_be_aware_and_end_up_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Ping(41.0, -87.0, datetime(2026, 3, 16, 14, 0))  # naive: the point of the test
    chicago = timezone(timedelta(hours=-5))
    ping = Ping(41.0, -87.0, datetime(2026, 3, 16, 9, 0, tzinfo=chicago))
    assert ping.recorded_at == datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
    assert ping.recorded_at.utcoffset() == timedelta(0)
    assert Ping.from_json(ping.to_json()) == ping
