"""One call per ping batch: every driver rule in order, with one persisted state per route.

screen -> trusted trace -> geofence and "N stops away" -> deviation -> speed -> ETAs ->
"ETA moved" -> lateness. The caller loads `RouteState` (JSON) and the route's open stops, calls
`evaluate_batch`, stores the accepted pings and the new state, and acts on the decisions, all in
one transaction. Lateness also needs a periodic check when no pings arrive (a driver offline
when the promise passes): call `lateness.check_lateness` from that job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.drivers.rules.deviation import (
    DEFAULT_DEVIATION,
    DeviationPolicy,
    DeviationState,
    PlannedPath,
    RouteDecision,
    evaluate_deviation,
)
from gateway.drivers.rules.eta import DEFAULT_ETA, EtaPolicy, EtaStop, StopEta, estimate_etas
from gateway.drivers.rules.eta import eta_changed as _eta_moved
from gateway.drivers.rules.geofence import (
    DEFAULT_GEOFENCE,
    DEFAULT_RADIUS_M,
    DEFAULT_STOPS_AWAY,
    FenceDecision,
    FenceStop,
    GeofencePolicy,
    GeofenceState,
    StopsAwayDecision,
    StopsAwayState,
    evaluate_geofence,
    stops_away,
)
from gateway.drivers.rules.lateness import LateDecision, LatenessState, check_lateness
from gateway.drivers.rules.pings import DEFAULT_SCREENING, Ping, Screening, ScreeningPolicy
from gateway.drivers.rules.pings import screen_pings as _screen
from gateway.drivers.rules.speed import (
    DEFAULT_SPEED,
    SpeedPolicy,
    SpeedState,
    current_speed_mps,
    update_speed,
)
from gateway.drivers.rules.state import JsonState
from gateway.drivers.rules.trace import Trace


@dataclass(frozen=True, slots=True)
class RouteStop:
    """An open stop of the driver's route (its id is the shipment id)."""

    stop_id: str
    lat: float
    lon: float
    radius_m: float = DEFAULT_RADIUS_M
    service_s: float = 180.0
    promised_by: datetime | None = None
    arrived_at: datetime | None = None  # from the driver app's "arrived" event, if any


@dataclass(frozen=True, slots=True)
class Policies:
    screening: ScreeningPolicy = DEFAULT_SCREENING
    geofence: GeofencePolicy = DEFAULT_GEOFENCE
    deviation: DeviationPolicy = DEFAULT_DEVIATION
    speed: SpeedPolicy = DEFAULT_SPEED
    eta: EtaPolicy = DEFAULT_ETA
    stops_away_n: int = DEFAULT_STOPS_AWAY
    eta_changed_after_s: float = 300.0
    late_again_after_s: float = 900.0


DEFAULT_POLICIES = Policies()


@dataclass(frozen=True, slots=True)
class StopLateness:
    stop_id: str
    state: LatenessState


@dataclass(frozen=True, slots=True)
class ReportedEta:
    stop_id: str
    eta: datetime


@dataclass(frozen=True, slots=True)
class RouteState(JsonState):
    """Everything the rules remember about one driver's active route (a few hundred bytes)."""

    last_ping: Ping | None = None
    geofence: GeofenceState = field(default_factory=GeofenceState)
    stops_away: StopsAwayState = field(default_factory=StopsAwayState)
    deviation: DeviationState = field(default_factory=DeviationState)
    speed: SpeedState = field(default_factory=SpeedState)
    reported_etas: tuple[ReportedEta, ...] = ()
    lateness: tuple[StopLateness, ...] = ()


@dataclass(frozen=True, slots=True)
class StopLate:
    stop_id: str
    decision: LateDecision


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    screening: Screening
    fences: list[FenceDecision]
    stops_away: list[StopsAwayDecision]
    route: list[RouteDecision]
    etas: list[StopEta]  # every open stop's current ETA (empty before the first ping)
    eta_changes: list[StopEta]  # the ETAs to report (emit eta_changed for these)
    late: list[StopLate]
    state: RouteState


def evaluate_batch(
    pings: Sequence[Ping],
    remaining: Sequence[RouteStop],
    path: PlannedPath | None,
    state: RouteState,
    now: datetime,
    policies: Policies = DEFAULT_POLICIES,
) -> BatchOutcome:
    """Decisions for one batch; `remaining` are the route's open stops in route order."""
    screening = _screen(pings, state.last_ping, now, policies.screening)
    trace = Trace.of(screening.accepted)
    fence_stops = [FenceStop(s.stop_id, s.lat, s.lon, s.radius_m) for s in remaining]
    fences, geofence = evaluate_geofence(trace, fence_stops, state.geofence, policies.geofence)
    ids = [s.stop_id for s in remaining]
    away, away_state = stops_away(ids, state.stops_away, policies.stops_away_n)
    route: list[RouteDecision] = []
    deviation = state.deviation
    if path is not None:
        route, deviation = evaluate_deviation(trace, path, deviation, policies.deviation)
    speed = update_speed(trace, state.speed, policies.speed)
    etas = _etas(screening.last_accepted, remaining, path, speed, geofence, policies)
    changes, reported = _eta_changes(etas, state.reported_etas, ids, policies)
    late, lateness = _lateness(etas, remaining, state.lateness, now, policies)
    new_state = RouteState(
        screening.last_accepted, geofence, away_state, deviation, speed, reported, lateness
    )
    return BatchOutcome(screening, fences, away, route, etas, changes, late, new_state)


def _etas(
    position: Ping | None,
    remaining: Sequence[RouteStop],
    path: PlannedPath | None,
    speed: SpeedState,
    geofence: GeofenceState,
    policies: Policies,
) -> list[StopEta]:
    if position is None or not remaining:
        return []
    stops = [
        EtaStop(s.stop_id, s.lat, s.lon, s.service_s, _arrived_at(s, geofence)) for s in remaining
    ]
    return estimate_etas(
        (position.lat, position.lon),
        position.recorded_at,
        stops,
        current_speed_mps(speed, policies.speed),
        path,
        policies.eta,
    )


def _arrived_at(stop: RouteStop, geofence: GeofenceState) -> datetime | None:
    return stop.arrived_at or geofence.arrived_at(stop.stop_id)


def _eta_changes(
    etas: list[StopEta],
    reported: tuple[ReportedEta, ...],
    open_ids: list[str],
    policies: Policies,
) -> tuple[list[StopEta], tuple[ReportedEta, ...]]:
    last = {r.stop_id: r.eta for r in reported if r.stop_id in open_ids}
    changes = [
        e for e in etas if _eta_moved(last.get(e.stop_id), e.eta, policies.eta_changed_after_s)
    ]
    last.update((e.stop_id, e.eta) for e in changes)
    return changes, tuple(ReportedEta(stop_id, eta) for stop_id, eta in last.items())


def _lateness(
    etas: list[StopEta],
    remaining: Sequence[RouteStop],
    states: tuple[StopLateness, ...],
    now: datetime,
    policies: Policies,
) -> tuple[list[StopLate], tuple[StopLateness, ...]]:
    by_stop = {s.stop_id: s.state for s in states}
    eta_of = {e.stop_id: e.eta for e in etas}
    late: list[StopLate] = []
    for stop in remaining:
        if stop.promised_by is None:
            continue
        previous = by_stop.get(stop.stop_id, LatenessState())
        decision, by_stop[stop.stop_id] = check_lateness(
            stop.promised_by,
            eta_of.get(stop.stop_id),
            now,
            False,  # open stops are undelivered by definition
            previous,
            policies.late_again_after_s,
        )
        if decision is not None:
            late.append(StopLate(stop.stop_id, decision))
    open_ids = {s.stop_id for s in remaining}
    kept = tuple(StopLateness(i, s) for i, s in by_stop.items() if i in open_ids)
    return late, kept
