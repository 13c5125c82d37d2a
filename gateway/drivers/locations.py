"""One batch of driver pings, start to finish, in one transaction per batch.

lock the driver (the token's revocation check, and one batch per driver at a time) → the route
the pings belong to (starting it if due) → the rules (`rules.batch.evaluate_batch`) → positions
inserted in bulk → the driver's anchor and the route's rule state saved → decisions acted on
(`actions.act`: stop states, store webhooks, notifications, alerts). After the commit the caller
hands the new jobs to arq and updates the live position in Redis (`live.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store as driver_store
from gateway.drivers import store_positions, store_routes
from gateway.drivers.actions import BatchScope, act
from gateway.drivers.auth import require_driver
from gateway.drivers.lifecycle import current_route, stop_to_activate
from gateway.drivers.live import EtaUpdate
from gateway.drivers.model import Driver, Route, RouteStatus, Stop, StopState
from gateway.drivers.rules.batch import (
    DEFAULT_POLICIES,
    Policies,
    RouteState,
    RouteStop,
    evaluate_batch,
)
from gateway.drivers.rules.deviation import PathCache
from gateway.drivers.rules.geofence import DEFAULT_STOPS_AWAY
from gateway.drivers.rules.pings import (
    AcceptedPing,
    Ping,
    Refusal,
    RefusedPing,
    Screening,
    screen_pings,
)
from gateway.drivers.tokens import DriverClaims
from gateway.drivers.writes import WriteGate
from gateway.platform.outbox import PendingJob, collect_added_jobs

PATHS = web.AppKey("driver_paths", PathCache)


@dataclass(frozen=True, slots=True)
class BatchResult:
    driver: Driver
    screening: Screening
    route_id: str | None
    newest: AcceptedPing | None  # the batch's newest ping, if it moved the driver's position on
    eta_updates: list[EtaUpdate] = field(default_factory=list)
    jobs: list[PendingJob] = field(default_factory=list)  # committed: hand them to arq


async def record_batch(
    writes: WriteGate,
    claims: DriverClaims,
    pings: Sequence[Ping],
    now: datetime,
    paths: PathCache,
) -> BatchResult:
    """Screen, store and act on one batch. Raises a 401 ApiError if the token is revoked."""
    with collect_added_jobs() as jobs:
        async with writes.begin() as conn:
            driver = await require_driver(conn, claims)
            result = await _in_transaction(conn, driver, pings, now, paths)
    return replace(result, jobs=list(jobs))


async def _in_transaction(
    conn: AsyncConnection, driver: Driver, pings: Sequence[Ping], now: datetime, paths: PathCache
) -> BatchResult:
    last = Ping.from_json(driver.last_ping) if driver.last_ping else None
    fresh, seen = await _unseen(conn, driver.id, pings, last)
    route = await _route_for_pings(conn, driver.id, now)
    eta_updates: list[EtaUpdate] = []
    new_pings = [pings[i] for i in fresh]
    if route is None:
        screening = screen_pings(new_pings, last, now, DEFAULT_POLICIES.screening)
    else:
        screening, eta_updates = await _evaluate(conn, driver, route, new_pings, last, now, paths)
    screening = _in_batch_order(screening, fresh, seen, pings)
    route_id = route.id if route else None
    await store_positions.insert_accepted(
        conn, driver.tenant_id, driver.id, route_id, screening.accepted, now
    )
    newest = _newest(screening.accepted, last)
    if newest is not None:
        await driver_store.save_position(
            conn, driver.id, newest.ping.to_json(), newest.ping.recorded_at
        )
    return BatchResult(driver, screening, route_id, newest, eta_updates)


async def _unseen(
    conn: AsyncConnection, driver_id: str, pings: Sequence[Ping], last: Ping | None
) -> tuple[list[int], list[int]]:
    """(indexes of pings not stored before, indexes of pings already in the history).

    An app that resends a batch (its answer was lost) must not replay it through the rules: an
    old detour would fire `off_route` again. Only a batch reaching back to the driver's newest
    ping can hold such pings, so the usual batch costs no query.
    """
    if last is None or not pings or min(p.recorded_at for p in pings) > last.recorded_at:
        return list(range(len(pings))), []
    times = [store_positions.to_ms(p.recorded_at) for p in pings]
    stored = await store_positions.recorded_ms_between(conn, driver_id, min(times), max(times))
    fresh = [i for i, t in enumerate(times) if t not in stored]
    return fresh, [i for i, t in enumerate(times) if t in stored]


def _in_batch_order(
    screening: Screening, fresh: list[int], seen: list[int], pings: Sequence[Ping]
) -> Screening:
    """The screening of the fresh pings, with indexes of the batch as sent and the pings
    already stored refused as duplicates."""
    if not seen:
        return screening
    accepted = tuple(replace(a, index=fresh[a.index]) for a in screening.accepted)
    refused = [replace(r, index=fresh[r.index]) for r in screening.refused]
    refused += [RefusedPing(i, pings[i], Refusal.DUPLICATE) for i in seen]
    refused.sort(key=lambda r: r.index)
    return replace(screening, accepted=accepted, refused=tuple(refused))


async def _route_for_pings(conn: AsyncConnection, driver_id: str, now: datetime) -> Route | None:
    """The driver's current route; a planned one that is due starts now."""
    route = current_route(await store_routes.open_routes_of_driver(conn, driver_id), now)
    if route is not None and route.state is RouteStatus.PLANNED:
        route = await start_route(conn, route, now)
    return route


async def start_route(conn: AsyncConnection, route: Route, now: datetime) -> Route:
    await store_routes.update_route(
        conn, route.id, now, state=RouteStatus.ACTIVE.value, started_at=now
    )
    first = stop_to_activate(await store_routes.stops_of(conn, [route.id]))
    if first is not None:
        await store_routes.update_stop(
            conn, route.id, first.shipment_id, state=StopState.ACTIVE.value
        )
    return replace(route, state=RouteStatus.ACTIVE, started_at=now)


async def _evaluate(
    conn: AsyncConnection,
    driver: Driver,
    route: Route,
    pings: Sequence[Ping],
    last: Ping | None,
    now: datetime,
    paths: PathCache,
) -> tuple[Screening, list[EtaUpdate]]:
    stops = await store_routes.stops_of(conn, [route.id], open_only=True)
    state = replace(RouteState.from_json(route.rule_state), last_ping=last)
    path = paths.get(route.id, route.path) if route.path else None
    outcome = evaluate_batch(pings, _remaining(stops), path, state, now, _policies(route))
    await store_routes.update_route(conn, route.id, now, rule_state=outcome.state.to_json())
    positions = {a.ping.recorded_at: a.ping for a in outcome.screening.accepted}
    scope = BatchScope(driver, route, stops, positions, now)
    await act(conn, scope, outcome)
    return outcome.screening, scope.eta_updates


def _remaining(stops: Sequence[Stop]) -> list[RouteStop]:
    return [
        RouteStop(
            stop_id=s.shipment_id,
            lat=s.lat,
            lon=s.lon,
            radius_m=s.radius_m,
            service_s=s.service_s,
            promised_by=s.promised_by,
            arrived_at=s.arrived_at,
        )
        for s in stops
        if s.is_open
    ]


def _policies(route: Route) -> Policies:
    away = route.notify_stops_away
    if away is None or away == DEFAULT_STOPS_AWAY:
        return DEFAULT_POLICIES
    return replace(DEFAULT_POLICIES, stops_away_n=away)


def _newest(accepted: Sequence[AcceptedPing], last: Ping | None) -> AcceptedPing | None:
    """The batch's newest accepted ping if it is newer than the driver's previous one."""
    if not accepted:
        return None
    newest = accepted[-1]  # Screening.accepted is in recorded_at order
    if last is not None and newest.ping.recorded_at <= last.recorded_at:
        return None
    return newest
