"""The driver app's API (`/v1/driver/...`, driver token): pings, stop events, proof of delivery.

Every handler checks the token's signature before reading the body, and the driver row (deleted,
reset) inside its transaction. A driver only ever reaches the stops of their own routes; any
other shipment is a 404, the same as one that does not exist.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from redis.exceptions import RedisError

from gateway.drivers import live
from gateway.drivers.auth import driver_claims, require_driver
from gateway.drivers.locations import PATHS, BatchResult, record_batch
from gateway.drivers.rules.pings import Ping
from gateway.drivers.schemas_app import (
    LocationsIn,
    LocationsOut,
    StopEventIn,
    StopEventOut,
    StopOutForDriver,
)
from gateway.drivers.stop_events import DriverEvent, NotYourStop, record_event
from gateway.drivers.writes import WRITES
from gateway.platform.appkeys import CLOCK, DB, REDIS, RELAY
from gateway.platform.http.errors import not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.outbox import PendingJob, collect_added_jobs
from gateway.platform.relay import hand_over

log = logging.getLogger(__name__)

TAG = "driver app"


async def post_locations(request: web.Request) -> web.Response:
    """202 with a verdict per ping; refused pings never sink the batch."""
    claims = await driver_claims(request)
    body = await read_body(request, LocationsIn)
    pings = [
        Ping(p.lat, p.lon, p.recorded_at, p.accuracy_m, p.speed_mps, p.heading) for p in body.pings
    ]
    result = await record_batch(
        request.app[WRITES], claims, pings, request.app[CLOCK].now(), request.app[PATHS]
    )
    await hand_over_jobs(request, result.jobs)
    await _go_live(request, result)
    return web.json_response(_verdicts(result, len(pings)), status=202)


def _verdicts(result: BatchResult, count: int) -> dict[str, object]:
    verdicts: list[dict[str, object] | None] = [None] * count
    for accepted in result.screening.accepted:
        verdicts[accepted.index] = {"status": "accepted", "trusted": accepted.trusted}
    for refused in result.screening.refused:
        verdicts[refused.index] = {"status": "refused", "reason": refused.reason.value}
    return {
        "accepted": len(result.screening.accepted),
        "refused": len(result.screening.refused),
        "route_id": result.route_id,
        "pings": verdicts,
    }


async def _go_live(request: web.Request, result: BatchResult) -> None:
    """The newest position and reported ETAs to Redis; the batch is committed whatever happens."""
    driver = result.driver
    try:
        if result.newest is not None:
            await live.publish_position(
                request.app[REDIS], driver.tenant_id, driver.id, result.route_id, result.newest
            )
        await live.publish_etas(request.app[REDIS], result.eta_updates)
    except (RedisError, OSError) as exc:
        log.warning("live position of %s not published: %s", driver.id, type(exc).__name__)


async def hand_over_jobs(request: web.Request, jobs: list[PendingJob]) -> None:
    """Committed webhook and notification jobs to arq now; the relay keeps any it misses."""
    if not jobs:
        return
    try:
        await hand_over(request.app[DB], request.app[REDIS], jobs)
    except Exception as exc:  # committed already: the relay will move them
        log.warning("driver follow-up hand-over failed (%s); left to the relay", type(exc).__name__)
        request.app[RELAY].wake()


async def post_stop_event(request: web.Request) -> web.Response:
    """201 with the stop as it is now (200 when the same event was recorded before)."""
    claims = await driver_claims(request)
    body = await read_body(request, StopEventIn)
    raw = await request.read()
    event = DriverEvent(body.type, body.occurred_at, body.note)
    now = request.app[CLOCK].now()
    with collect_added_jobs() as jobs:
        async with request.app[WRITES].begin() as conn:
            driver = await require_driver(conn, claims)
            try:
                outcome = await record_event(
                    conn, driver, request.match_info["shipment_id"], event, raw, now
                )
            except NotYourStop:
                raise not_found("stop") from None
    if outcome.changed_shipment:
        request.app[RELAY].wake()
    await hand_over_jobs(request, list(jobs))
    stop = outcome.stop
    out = StopEventOut(
        accepted=outcome.stored,
        stop=StopOutForDriver(
            shipment_id=stop.shipment_id,
            route_id=stop.route_id,
            state=stop.state.value,
            eta=stop.eta if stop.is_open else None,
        ),
        route_state=outcome.route.state.value,
    )
    return web.json_response(out.model_dump(mode="json"), status=201 if outcome.stored else 200)


# The driver app's operations (driver token, not the store's API key).
API: Final = (
    Operation(
        "POST",
        "/v1/driver/locations",
        post_locations,
        summary="A batch of up to 500 GPS pings; each is accepted or refused with a reason",
        tag=TAG,
        body=LocationsIn,
        response=LocationsOut,
        status=202,
    ),
    Operation(
        "POST",
        "/v1/driver/stops/{shipment_id}/events",
        post_stop_event,
        summary="picked_up, out_for_delivery, arrived, delivered or failed_attempt at a stop",
        tag=TAG,
        body=StopEventIn,
        response=StopEventOut,
        status=201,
    ),
)
