"""Drivers jobs (arq cron): purge position history past retention; catch promises that pass
while no pings arrive (a driver offline when the promise passes is late too)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store as driver_store
from gateway.drivers import store_positions, store_routes
from gateway.drivers.actions import BatchScope, report_late
from gateway.drivers.model import RouteStatus
from gateway.drivers.rules.batch import DEFAULT_POLICIES, RouteState, StopLate, StopLateness
from gateway.drivers.rules.lateness import LatenessState, check_lateness
from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import Job
from gateway.platform.outbox import collect_added_jobs
from gateway.platform.relay import hand_over

log = logging.getLogger(__name__)


async def purge_driver_positions(ctx: JobContext) -> int:
    """Delete positions recorded before the retention period, a chunk per transaction."""
    cutoff = datetime.now(UTC) - timedelta(days=ctx["settings"].position_retention_days)
    total = 0
    while True:
        async with ctx["db"].begin() as conn:
            deleted = await store_positions.purge_chunk(conn, cutoff)
        total += deleted
        if deleted < store_positions.PURGE_CHUNK:
            break
    JOBS_RUN.labels(Job.PURGE_POSITIONS, "done").inc()
    log.info("purged %d driver positions recorded before %s", total, cutoff.isoformat())
    return total


async def check_overdue_stops(ctx: JobContext) -> int:
    """`late` for open stops whose promise passed since the driver's last batch; returns how
    many were reported. Serialized with the driver's batches by the same row lock."""
    now = datetime.now(UTC)
    async with ctx["db"].connect() as conn:
        candidates = await store_routes.routes_with_overdue_stops(conn, now)
    reported = 0
    for route_id, driver_id in candidates:
        with collect_added_jobs() as jobs:
            async with ctx["db"].begin() as conn:
                reported += await _check_route(conn, route_id, driver_id, now)
        await hand_over(ctx["db"], ctx["redis"], jobs)
    JOBS_RUN.labels(Job.CHECK_OVERDUE_STOPS, "done").inc()
    return reported


async def _check_route(conn: AsyncConnection, route_id: str, driver_id: str, now: datetime) -> int:
    driver = await driver_store.lock(conn, driver_id)
    found = await store_routes.get(conn, route_id)
    if driver is None or found is None or found.route.state is not RouteStatus.ACTIVE:
        return 0
    state = RouteState.from_json(found.route.rule_state)
    by_stop = {s.stop_id: s.state for s in state.lateness}
    scope = BatchScope(driver, found.route, found.stops, {}, now)
    reported = 0
    for stop in found.open_stops:
        if stop.promised_by is None:
            continue
        previous = by_stop.get(stop.shipment_id, LatenessState())
        decision, by_stop[stop.shipment_id] = check_lateness(
            stop.promised_by, stop.eta, now, False, previous, DEFAULT_POLICIES.late_again_after_s
        )
        if decision is not None:
            await report_late(conn, scope, stop, StopLate(stop.shipment_id, decision), {})
            reported += 1
    if reported:
        lateness = tuple(StopLateness(stop_id, s) for stop_id, s in by_stop.items())
        new_state = replace(state, lateness=lateness)
        await store_routes.update_route(conn, route_id, now, rule_state=new_state.to_json())
    return reported
