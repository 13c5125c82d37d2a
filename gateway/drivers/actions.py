"""What a ping batch's rule decisions cause, inside the batch's transaction.

Arrival: the stop becomes `arrived`, `driver.arriving` goes to the store once, and the customer's
"arriving" notification once (the same cause id whether it came from the geofence or from "N
stops away"). Deviation: `driver.off_route` / `driver.back_on_route` and an alert per episode.
ETA: every stop's newest estimate is stored; a move the rules report (> 5 min) sends
`shipment.eta_changed` and is announced live. Lateness: `shipment.late`, an alert, and the
customer's `late` notification (once per slip; not again when only the promise passes).

Every idempotency key derives from the cause (route, stop, counter persisted with the stop or
route), so nothing here can fire twice for one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import format_utc
from gateway.drivers import store_alerts, store_routes
from gateway.drivers.live import EtaUpdate
from gateway.drivers.model import AlertKind, Driver, Route, Stop, StopState
from gateway.drivers.rules.batch import BatchOutcome, StopLate
from gateway.drivers.rules.deviation import RouteDecision, RouteEvent
from gateway.drivers.rules.eta import StopEta
from gateway.drivers.rules.geofence import FenceEvent
from gateway.drivers.rules.lateness import LateReason
from gateway.drivers.rules.pings import Ping
from gateway.drivers.store_alerts import NewAlert
from gateway.notifications.plan import Trigger, plan_event
from gateway.notifications.rules import DEFAULT_RULES, Rule, TriggerEvent, matching
from gateway.notifications.store_config import list_rules
from gateway.store_webhooks.events import EventType, emit
from gateway.store_webhooks.store_messages import subscribed_endpoints

ETA_STORE_STEP: Final = timedelta(seconds=60)  # finer moves are not worth a write


@dataclass
class BatchScope:
    """One batch on one route: who, where, and what the batch saw."""

    driver: Driver
    route: Route
    stops: list[Stop]  # the route's open stops (at least), in order
    positions: dict[datetime, Ping]  # accepted pings by recorded_at
    now: datetime
    eta_updates: list[EtaUpdate] = field(default_factory=list)
    _webhooks: dict[EventType, bool] = field(default_factory=dict)
    _rules: list[Rule] | None = None

    async def store_listens(self, conn: AsyncConnection, event_type: EventType) -> bool:
        """Whether any endpoint of the store takes `event_type` (asked once per batch)."""
        if event_type not in self._webhooks:
            endpoints = await subscribed_endpoints(conn, self.driver.tenant_id, event_type)
            self._webhooks[event_type] = bool(endpoints)
        return self._webhooks[event_type]

    async def customer_listens(self, conn: AsyncConnection, event: TriggerEvent) -> bool:
        """Whether a rule of the store notifies `event` (rules read once per batch)."""
        if self._rules is None:
            stored = await list_rules(conn, self.driver.tenant_id)
            self._rules = [s.rule for s in stored] or list(DEFAULT_RULES)
        return bool(matching(self._rules, event))

    def stop(self, shipment_id: str) -> Stop:
        return next(s for s in self.stops if s.shipment_id == shipment_id)

    def stop_data(self, stop: Stop) -> dict[str, Any]:
        return {
            "shipment_id": stop.shipment_id,
            "tracking_number": stop.tracking_number,
            "route_id": self.route.id,
            "driver_id": self.driver.id,
            "stop_sequence": stop.sequence,
        }


def arriving_cause(route_id: str, shipment_id: str) -> str:
    return f"arriving:{route_id}:{shipment_id}"


async def act(conn: AsyncConnection, scope: BatchScope, outcome: BatchOutcome) -> None:
    """Apply every decision of `outcome` (state changes, webhooks, notifications, alerts)."""
    etas = {e.stop_id: e for e in outcome.etas}
    for fence in outcome.fences:
        if fence.event is FenceEvent.ARRIVING:
            await _arriving(conn, scope, scope.stop(fence.stop_id), fence.at, etas)
    if scope.route.notify_stops_away is not None:
        for away in outcome.stops_away:
            stop = scope.stop(away.stop_id)
            await _notify_arriving(conn, scope, stop, etas.get(stop.shipment_id))
    for decision in outcome.route:
        await _deviation(conn, scope, decision)
    await _store_etas(conn, scope, outcome.etas)
    await _etas_reported(conn, scope, outcome.eta_changes)
    for late in outcome.late:
        await report_late(conn, scope, scope.stop(late.stop_id), late, etas)


async def _arriving(
    conn: AsyncConnection, scope: BatchScope, stop: Stop, at: datetime, etas: dict[str, StopEta]
) -> None:
    if stop.state in (StopState.PLANNED, StopState.ACTIVE):
        await store_routes.update_stop(
            conn, scope.route.id, stop.shipment_id, state=StopState.ARRIVED.value, arrived_at=at
        )
    data = {**scope.stop_data(stop), "at": format_utc(at), **_position(scope, at)}
    await emit(
        conn,
        scope.driver.tenant_id,
        EventType.DRIVER_ARRIVING,
        data,
        f"driver.arriving:{scope.route.id}:{stop.shipment_id}",
    )
    await _notify_arriving(conn, scope, stop, etas.get(stop.shipment_id))


async def _notify_arriving(
    conn: AsyncConnection, scope: BatchScope, stop: Stop, eta: StopEta | None
) -> None:
    facts = {"eta_at": eta.eta.isoformat() if eta else None}
    cause = arriving_cause(scope.route.id, stop.shipment_id)
    await plan_event(
        conn,
        Trigger(
            cause, scope.driver.tenant_id, stop.shipment_id, TriggerEvent.ARRIVING, scope.now, facts
        ),
    )


async def _deviation(conn: AsyncConnection, scope: BatchScope, decision: RouteDecision) -> None:
    route = scope.route
    off = decision.event is RouteEvent.OFF_ROUTE
    episode = route.off_route_episodes + (1 if off else 0)
    await store_routes.update_route(
        conn, route.id, scope.now, off_route=off, off_route_episodes=episode
    )
    scope.route = replace(route, off_route=off, off_route_episodes=episode)
    event = EventType.DRIVER_OFF_ROUTE if off else EventType.DRIVER_BACK_ON_ROUTE
    kind = AlertKind.OFF_ROUTE if off else AlertKind.BACK_ON_ROUTE
    cause = f"{event.value}:{route.id}:{episode}"
    data = {
        "route_id": route.id,
        "driver_id": scope.driver.id,
        "at": format_utc(decision.at),
        "distance_m": round(decision.distance_m, 1),
        **_position(scope, decision.at),
    }
    await emit(conn, scope.driver.tenant_id, event, data, cause, lane=f"route:{route.id}")
    await store_alerts.record(
        conn,
        NewAlert(
            cause, scope.driver.tenant_id, kind, decision.at, data, scope.driver.id, route.id, None
        ),
    )


async def _store_etas(conn: AsyncConnection, scope: BatchScope, etas: list[StopEta]) -> None:
    moved = []
    for eta in etas:
        stored = scope.stop(eta.stop_id).eta
        if stored is None or abs(eta.eta - stored) >= ETA_STORE_STEP:
            moved.append((eta.stop_id, eta.eta))
    await store_routes.set_etas(conn, scope.route.id, moved)


async def _etas_reported(conn: AsyncConnection, scope: BatchScope, changes: list[StopEta]) -> None:
    """Record each reported ETA (one statement), tell the store, and the customers whose
    estimate moved (the first estimate is news for the store, not the customer)."""
    if not changes:
        return
    reports = [(scope.stop(c.stop_id), c) for c in changes]
    await store_routes.record_eta_reports(
        conn, scope.route.id, [(s.shipment_id, c.eta, s.eta_reports + 1) for s, c in reports]
    )
    webhooks = await scope.store_listens(conn, EventType.SHIPMENT_ETA_CHANGED)
    notify = await scope.customer_listens(conn, TriggerEvent.ETA_CHANGED)
    for stop, change in reports:
        cause = f"shipment.eta_changed:{scope.route.id}:{stop.shipment_id}:{stop.eta_reports + 1}"
        previous = stop.eta_reported
        if webhooks:
            data = {
                **scope.stop_data(stop),
                "eta": format_utc(change.eta),
                "previous_eta": format_utc(previous) if previous else None,
                "distance_m": round(change.distance_m),
                "source": "driver",
            }
            await emit(conn, scope.driver.tenant_id, EventType.SHIPMENT_ETA_CHANGED, data, cause)
        if notify and previous is not None:
            facts = {"eta_at": change.eta.isoformat()}
            trigger = Trigger(
                cause,
                scope.driver.tenant_id,
                stop.shipment_id,
                TriggerEvent.ETA_CHANGED,
                scope.now,
                facts,
            )
            await plan_event(conn, trigger)
        scope.eta_updates.append(EtaUpdate(stop.shipment_id, scope.route.id, change.eta, previous))


async def report_late(
    conn: AsyncConnection,
    scope: BatchScope,
    stop: Stop,
    late: StopLate,
    etas: dict[str, StopEta],
) -> None:
    count = stop.late_reports + 1
    await store_routes.update_stop(conn, scope.route.id, stop.shipment_id, late_reports=count)
    decision = late.decision
    eta = decision.eta or (etas[stop.shipment_id].eta if stop.shipment_id in etas else None)
    data = {
        **scope.stop_data(stop),
        "reason": decision.reason.value,
        "promised_by": format_utc(decision.promised_by),
        "eta": format_utc(eta) if eta else None,
    }
    cause = f"shipment.late:{scope.route.id}:{stop.shipment_id}:{count}"
    tenant_id = scope.driver.tenant_id
    await emit(conn, tenant_id, EventType.SHIPMENT_LATE, data, cause)
    await store_alerts.record(
        conn,
        NewAlert(
            cause,
            tenant_id,
            AlertKind.LATE,
            scope.now,
            data,
            scope.driver.id,
            scope.route.id,
            stop.shipment_id,
        ),
    )
    told_before = stop.late_reports > 0
    if decision.reason is LateReason.PROMISE_PASSED and told_before:
        return  # the customer already knows it is late; the promise passing is no news
    facts = {"eta_at": eta.isoformat() if eta else None}
    await plan_event(
        conn, Trigger(cause, tenant_id, stop.shipment_id, TriggerEvent.LATE, scope.now, facts)
    )


def _position(scope: BatchScope, at: datetime) -> dict[str, Any]:
    ping = scope.positions.get(at)
    return {"position": {"lat": ping.lat, "lon": ping.lon}} if ping else {}
