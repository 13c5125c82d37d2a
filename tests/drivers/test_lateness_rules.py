"""Lateness: the customer hears before the promise passes, then only about real slips."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.drivers.rules.lateness import LatenessState, LateReason, check_lateness
from tests.drivers.city import T0

PROMISED = T0 + timedelta(hours=1)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_driver_running_late() -> None:
    readings = [  # (now, ETA) in minutes after T0; the promise is at 60
        (0, 40), (10, 58), (20, 63), (30, 70), (35, 60), (40, 79), (50, 85), (60.1, 86), (70, 87),
    ]  # fmt: skip
    state, told = LatenessState(), []
    for now, eta in readings:
        decision, state = check_lateness(PROMISED, _at(eta), _at(now), False, state)
        state = LatenessState.from_json(state.to_json())
        if decision is not None:
            told.append((now, decision.reason, decision.eta))
    assert told == [
        (20, LateReason.ETA_AFTER_PROMISE, _at(63)),  # 40 minutes before the promise
        (40, LateReason.ETA_AFTER_PROMISE, _at(79)),  # 16 min past the last late ETA (63)
        (60.1, LateReason.PROMISE_PASSED, _at(86)),
    ]


def test_the_promise_passing_is_late_once_even_without_an_eta() -> None:
    state = LatenessState()
    decision, state = check_lateness(PROMISED, None, _at(61), False, state)
    assert decision is not None and decision.reason is LateReason.PROMISE_PASSED
    assert check_lateness(PROMISED, None, _at(90), False, state)[0] is None


def test_delivered_shipments_are_never_late() -> None:
    decision, state = check_lateness(PROMISED, _at(90), _at(61), True, LatenessState())
    assert decision is None and state == LatenessState()
