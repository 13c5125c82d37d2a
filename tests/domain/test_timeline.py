"""Status precedence: whatever order events arrive in, the shipment ends in the same state."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.events import Status
from gateway.domain.timeline import ShipmentState, apply_event

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
EMPTY = ShipmentState(Status.UNKNOWN, None, None)

Event = tuple[Status, datetime, date | None]


def _replay(events: list[Event]) -> ShipmentState:
    state = EMPTY
    for status, at, eta in events:
        state = apply_event(state, status, at, eta)
    return state


JOURNEY: list[Event] = [
    (Status.PRE_TRANSIT, T0, None),
    (Status.IN_TRANSIT, T0 + timedelta(hours=5), date(2026, 3, 16)),
    (Status.UNKNOWN, T0 + timedelta(hours=6), None),
    (Status.OUT_FOR_DELIVERY, T0 + timedelta(hours=20), date(2026, 3, 15)),
    (Status.DELIVERED, T0 + timedelta(hours=24), None),
    (Status.IN_TRANSIT, T0 + timedelta(hours=30), None),  # mis-scan after delivery
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(JOURNEY)))))
def test_any_arrival_order_gives_the_same_final_state(order: tuple[int, ...]) -> None:
    final = _replay([JOURNEY[i] for i in order])
    assert final == _replay(JOURNEY)
    assert final.status is Status.DELIVERED
    assert final.estimated_delivery == date(2026, 3, 15)


def test_older_event_never_moves_status_backwards() -> None:
    state = _replay([(Status.OUT_FOR_DELIVERY, T0, None)])
    assert apply_event(state, Status.IN_TRANSIT, T0 - timedelta(hours=1), None) == state


def test_unknown_code_never_replaces_a_known_status() -> None:
    state = _replay(
        [(Status.IN_TRANSIT, T0, None), (Status.UNKNOWN, T0 + timedelta(hours=1), None)]
    )
    assert state.status is Status.IN_TRANSIT


def test_unknown_is_the_status_when_nothing_else_is_known() -> None:
    assert _replay([(Status.UNKNOWN, T0, None)]).status is Status.UNKNOWN


def test_delivery_older_than_a_mis_scan_still_wins() -> None:
    state = _replay(
        [(Status.IN_TRANSIT, T0 + timedelta(hours=2), None), (Status.DELIVERED, T0, None)]
    )
    assert (state.status, state.status_at) == (Status.DELIVERED, T0)


def test_delivered_parcel_can_still_be_returned_later() -> None:
    state = _replay([(Status.DELIVERED, T0, None), (Status.RETURNED, T0 + timedelta(days=2), None)])
    assert state.status is Status.RETURNED


def test_newer_failed_attempt_after_out_for_delivery_wins() -> None:
    state = _replay(
        [
            (Status.OUT_FOR_DELIVERY, T0, None),
            (Status.FAILED_ATTEMPT, T0 + timedelta(hours=3), None),
        ]
    )
    assert state.status is Status.FAILED_ATTEMPT
