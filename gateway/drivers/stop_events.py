"""A driver's stop event becomes a canonical event of carrier `driver`, through carrier ingest.

The event is stored by the shipments area's ingest (`store_ingest.ingest`) in the caller's
transaction, exactly as a carrier's would be: timeline and dedup, the shipment's status, and a
`shipment_changed` job that fans out to notifications and store webhooks. In the same
transaction the stop moves (arrived, done, failed), the next stop becomes active, the route
finishes with its last stop, and a failed attempt is recorded for the dispatcher.

A `delivered` event and a proof of delivery describe one delivery: whichever comes second reuses
the first one's time, so the timeline has one delivered event that carries the proof.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import CanonicalEvent
from gateway.drivers import store_alerts, store_routes
from gateway.drivers.lifecycle import EVENT_STATUS, stop_moves, stop_to_activate
from gateway.drivers.locations import start_route
from gateway.drivers.model import AlertKind, Driver, Route, RouteStatus, Stop, StopState
from gateway.drivers.store_alerts import NewAlert
from gateway.shipments.store_ingest import IngestRequest, ingest

DRIVER_CARRIER = "driver"


class NotYourStop(LookupError):
    """The shipment is not a stop of any of this driver's routes (or another store's)."""


@dataclass(frozen=True, slots=True)
class DriverEvent:
    type: str  # lifecycle.EVENT_STATUS key
    occurred_at: datetime
    note: str | None = None
    signed_by: str | None = None
    photo_url: str | None = None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    route: Route
    stop: Stop  # as it is after the event
    stored: bool  # False: the same event was on the timeline already
    changed_shipment: bool  # a shipment change was queued (wake the outbox relay)
    occurred_at: datetime


async def find_stop(conn: AsyncConnection, driver: Driver, shipment_id: str) -> tuple[Route, Stop]:
    """The driver's stop for the shipment. Raises NotYourStop."""
    found = await store_routes.stop_of_shipment(conn, shipment_id, driver_id=driver.id)
    if found is None or found[0].tenant_id != driver.tenant_id:
        raise NotYourStop(shipment_id)
    return found


async def record_event(
    conn: AsyncConnection,
    driver: Driver,
    shipment_id: str,
    event: DriverEvent,
    raw_body: bytes,
    now: datetime,
) -> EventOutcome:
    """Store the event and move the stop and route. Raises NotYourStop."""
    route, stop = await find_stop(conn, driver, shipment_id)
    if route.state is RouteStatus.PLANNED:
        route = await start_route(conn, route, now)
    occurred_at = event.occurred_at.astimezone(UTC).replace(microsecond=0)
    if event.type == "delivered" and stop.delivered_at is not None:
        occurred_at = stop.delivered_at  # the delivery is already on the timeline: enrich it
    canonical = _canonical(stop, event, occurred_at)
    request = IngestRequest(driver.tenant_id, driver.id, stop.carrier, {}, raw_body, [canonical])
    result = await ingest(conn, request)
    stop, still_open = await _move_stop(conn, route, stop, event.type, occurred_at)
    if not still_open and route.state is not RouteStatus.DONE:
        route = await _finish_route(conn, route, now)
    if event.type == "failed_attempt" and result.stored:
        await _failed_attempt_alert(conn, driver, route, stop, canonical, event.note)
    return EventOutcome(route, stop, result.stored > 0, bool(result.changes), occurred_at)


def _canonical(stop: Stop, event: DriverEvent, occurred_at: datetime) -> CanonicalEvent:
    status, text = EVENT_STATUS[event.type]
    description = f"{text}: {event.note}" if event.note else text
    return CanonicalEvent(
        tracking_number=stop.tracking_number,
        carrier=DRIVER_CARRIER,
        status=status,
        carrier_status_code=event.type,
        occurred_at=occurred_at,
        location=None,
        description=description,
        signed_by=event.signed_by,
        photo_url=event.photo_url,
    )


async def _move_stop(
    conn: AsyncConnection, route: Route, stop: Stop, event_type: str, occurred_at: datetime
) -> tuple[Stop, list[Stop]]:
    """The stop after the event, and the route's stops still open (the next one activated)."""
    target = stop_moves(stop, event_type)
    values: dict[str, Any] = {}
    if event_type == "delivered" and stop.delivered_at is None:
        values["delivered_at"] = occurred_at
    if target is not None:
        values["state"] = target
        if target is StopState.ARRIVED:
            values["arrived_at"] = stop.arrived_at or occurred_at
        else:
            values["done_at"] = occurred_at
    if values:
        stored = {k: v.value if isinstance(v, StopState) else v for k, v in values.items()}
        await store_routes.update_stop(conn, route.id, stop.shipment_id, **stored)
        stop = replace(stop, **values)
    still_open = await store_routes.stops_of(conn, [route.id], open_only=True)
    upcoming = stop_to_activate(still_open) if route.state is RouteStatus.ACTIVE else None
    if upcoming is not None:
        await store_routes.update_stop(
            conn, route.id, upcoming.shipment_id, state=StopState.ACTIVE.value
        )
        if upcoming.shipment_id == stop.shipment_id:
            stop = replace(stop, state=StopState.ACTIVE)
    return stop, still_open


async def _finish_route(conn: AsyncConnection, route: Route, now: datetime) -> Route:
    """The route's last stop closed: it is done."""
    await store_routes.update_route(
        conn, route.id, now, state=RouteStatus.DONE.value, finished_at=now
    )
    return replace(route, state=RouteStatus.DONE, finished_at=now)


async def _failed_attempt_alert(
    conn: AsyncConnection,
    driver: Driver,
    route: Route,
    stop: Stop,
    event: CanonicalEvent,
    note: str | None,
) -> None:
    data = {
        "shipment_id": stop.shipment_id,
        "tracking_number": stop.tracking_number,
        "route_id": route.id,
        "driver_id": driver.id,
        "note": note,
    }
    await store_alerts.record(
        conn,
        NewAlert(
            f"failed_attempt:{route.id}:{stop.shipment_id}:{event.identity()}",
            driver.tenant_id,
            AlertKind.FAILED_ATTEMPT,
            event.occurred_at,
            data,
            driver.id,
            route.id,
            stop.shipment_id,
        ),
    )
