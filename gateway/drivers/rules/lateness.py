"""Lateness: tell the customer before the promised time passes, not after.

`late` fires when a stop's ETA first passes the shipment's `promised_by`, again only when the
ETA slips `again_after_s` (15 min) beyond the last late ETA reported, and once when the promised
time itself passes with the shipment undelivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.drivers.rules.state import JsonState

LATE_AGAIN_AFTER_S: Final = 900.0


class LateReason(StrEnum):
    ETA_AFTER_PROMISE = "eta_after_promise"
    PROMISE_PASSED = "promise_passed"


@dataclass(frozen=True, slots=True)
class LateDecision:
    reason: LateReason
    promised_by: datetime
    eta: datetime | None  # the ETA that was late (None when only the promise passed)


@dataclass(frozen=True, slots=True)
class LatenessState(JsonState):
    """Persist per shipment."""

    last_late_eta: datetime | None = None  # the last ETA reported as late
    promise_passed: bool = False


def check_lateness(
    promised_by: datetime,
    eta: datetime | None,
    now: datetime,
    delivered: bool,
    state: LatenessState,
    again_after_s: float = LATE_AGAIN_AFTER_S,
) -> tuple[LateDecision | None, LatenessState]:
    """At most one decision per call; the promise passing comes first."""
    if delivered:
        return None, state
    if now > promised_by and not state.promise_passed:
        decision = LateDecision(LateReason.PROMISE_PASSED, promised_by, eta)
        last = eta if eta is not None and eta > promised_by else state.last_late_eta
        return decision, LatenessState(last, promise_passed=True)
    if eta is None or eta <= promised_by:
        return None, state
    last = state.last_late_eta
    if last is not None and (eta - last).total_seconds() <= again_after_s:
        return None, state
    decision = LateDecision(LateReason.ETA_AFTER_PROMISE, promised_by, eta)
    return decision, LatenessState(eta, state.promise_passed)
