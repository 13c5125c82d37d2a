"""The board: everything the console shows for one store and day, read through the drivers,
tracking and tenants areas' store functions and the live positions in Redis."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.dispatch import rules
from gateway.dispatch.model import Board, DriverCard, Position, RouteCard, StopCard
from gateway.dispatch.rules import Day, RawAlert
from gateway.drivers import live, store_alerts, store_routes
from gateway.drivers import store as driver_store
from gateway.drivers.model import Driver, RouteStatus, RouteWithStops, Stop
from gateway.drivers.rules.pings import Ping
from gateway.tenants import store as tenants
from gateway.tracking import store_ratings

log = logging.getLogger(__name__)

ALERTS_SHOWN: Final = 50
MAX_DRIVERS: Final = 1000
PAGE: Final = 200
# Finished routes are found among the store's newest done routes; the drivers area has no
# "finished between" query yet (gateway/dispatch/README.md).
DONE_ROUTES_SCANNED: Final = 1000


@dataclass(frozen=True, slots=True)
class BoardRequest:
    tenant_id: str
    timezone: str
    day: str | None  # YYYY-MM-DD, None: today
    now: datetime


@dataclass(frozen=True, slots=True)
class _Read:
    store_name: str
    drivers: list[Driver]
    routes: list[RouteWithStops]
    alerts: list[RawAlert]
    ratings: list[tuple[str | None, int]]
    names: dict[str, str]


async def build_board(engine: AsyncEngine, redis: Redis, asked: BoardRequest) -> Board:
    day = rules.day_of(asked.now, asked.timezone, asked.day)
    async with engine.connect() as conn:
        read = await _read(conn, asked.tenant_id, day)
    positions = await _positions(redis, asked.tenant_id, read.drivers)
    cards = {r.route.id: _route_card(r, asked.now) for r in read.routes}
    finished = {r.route.id: r.route.finished_at for r in read.routes if r.route.finished_at}
    addresses = {s.shipment_id: s.address for c in cards.values() for s in c.stops if s.address}
    drivers = []
    for driver in read.drivers:
        mine = [cards[r.route.id] for r in read.routes if r.route.driver_id == driver.id]
        route = rules.route_for_board(mine, day, finished)
        position = positions.get(driver.id)
        state = rules.driver_state(route, position, asked.now)
        drivers.append(DriverCard(driver.id, driver.name, state, position, route))
    return Board(
        store_name=read.store_name,
        day=day.local.isoformat(),
        is_today=day.local == asked.now.astimezone(day.zone).date(),
        timezone=asked.timezone,
        generated_at=asked.now,
        drivers=drivers,
        alerts=[rules.alert_line(a, read.names, addresses, day.zone) for a in read.alerts],
        figures=rules.figures(
            (s for c in cards.values() for s in c.stops), read.ratings, read.names, day
        ),
    )


async def _read(conn: AsyncConnection, tenant_id: str, day: Day) -> _Read:
    store_name = await tenants.tenant_name(conn, tenant_id) or "Your store"
    drivers = await _drivers(conn, tenant_id)
    routes = await _routes(conn, tenant_id, day)
    alerts = await _alerts(conn, tenant_id, day)
    ratings = await _ratings(conn, tenant_id, day)
    names = {d.id: d.name for d in drivers}
    unknown = {d for d, _ in ratings if d and d not in names}
    unknown |= {a.driver_id for a in alerts if a.driver_id and a.driver_id not in names}
    names |= await driver_store.names(conn, sorted(unknown))  # deleted drivers keep their name
    return _Read(store_name, drivers, routes, alerts, ratings, names)


async def _drivers(conn: AsyncConnection, tenant_id: str) -> list[Driver]:
    found: list[Driver] = []
    after = None
    while len(found) < MAX_DRIVERS:
        page = await driver_store.list_for_tenant(conn, tenant_id, after, PAGE)
        found.extend(page)
        if len(page) < PAGE:
            break
        after = page[-1].id
    return sorted(found, key=lambda d: (d.name.casefold(), d.id))


async def _routes(conn: AsyncConnection, tenant_id: str, day: Day) -> list[RouteWithStops]:
    """Every open route, and the done routes that finished on `day`."""
    found: list[RouteWithStops] = []
    for states, limit in (
        ((RouteStatus.PLANNED, RouteStatus.ACTIVE), None),
        ((RouteStatus.DONE,), DONE_ROUTES_SCANNED),
    ):
        before = None
        scanned = 0
        while limit is None or scanned < limit:
            page = await store_routes.list_for_tenant(
                conn, tenant_id, driver_id=None, states=states, before=before, limit=PAGE
            )
            scanned += len(page)
            found.extend(
                r
                for r in page
                if r.route.state is not RouteStatus.DONE or r.route.finished_at in day
            )
            if len(page) < PAGE:
                break
            before = page[-1].route.id
    return found


async def _alerts(conn: AsyncConnection, tenant_id: str, day: Day) -> list[RawAlert]:
    """The newest alerts about things that happened on `day`, newest first."""
    since = day.start - timedelta(days=1)  # recorded late (a phone offline) still counts
    found = await store_alerts.list_for_tenant(conn, tenant_id, since, None, 4 * ALERTS_SHOWN)
    return [
        RawAlert(a.id, a.kind.value, a.occurred_at, a.driver_id, a.shipment_id, a.data)
        for a in found
        if a.occurred_at in day
    ][:ALERTS_SHOWN]


async def _ratings(conn: AsyncConnection, tenant_id: str, day: Day) -> list[tuple[str | None, int]]:
    found = await store_ratings.list_for_tenant(conn, tenant_id, day.start, 10_000)
    return [(r.rating.driver_id, r.rating.score) for r in found if r.rating.updated_at < day.end]


async def _positions(redis: Redis, tenant_id: str, drivers: list[Driver]) -> dict[str, Position]:
    """Each driver's newest position: Redis first, the driver row's last ping if Redis is away."""
    try:
        fleet = await live.fleet_positions(redis, tenant_id)
    except (RedisError, OSError) as exc:
        log.warning("fleet positions unavailable (%s); using stored ones", type(exc).__name__)
        fleet = {}
    found = {}
    for driver in drivers:
        position = position_of(fleet[driver.id]) if driver.id in fleet else None
        if position is None and driver.last_ping:
            position = _stored_position(driver.last_ping)
        if position is not None:
            found[driver.id] = position
    return found


def position_of(message: Mapping[str, Any]) -> Position | None:
    """A live position message (gateway/drivers/live.py) as a Position; None if malformed."""
    try:
        return Position(
            lat=float(message["lat"]),
            lon=float(message["lon"]),
            recorded_at=datetime.fromisoformat(str(message["recorded_at"]).replace("Z", "+00:00")),
            heading=_number(message.get("heading")),
            speed_mps=_number(message.get("speed_mps")),
            trusted=bool(message.get("trusted", True)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _stored_position(last_ping: Mapping[str, object]) -> Position | None:
    try:
        ping = Ping.from_json(last_ping)
    except ValidationError:
        return None
    return Position(ping.lat, ping.lon, ping.recorded_at, ping.heading, ping.speed_mps, True)


def _route_card(found: RouteWithStops, now: datetime) -> RouteCard:
    route = found.route
    return RouteCard(
        route.id,
        route.state.value,
        route.off_route,
        route.path,
        [_stop_card(s, now) for s in found.stops],
    )


def _stop_card(stop: Stop, now: datetime) -> StopCard:
    card = StopCard(
        shipment_id=stop.shipment_id,
        tracking_number=stop.tracking_number,
        sequence=stop.sequence,
        state=stop.state.value,
        lat=stop.lat,
        lon=stop.lon,
        address=stop.address,
        eta=stop.eta if stop.is_open else None,
        promised_by=stop.promised_by,
        # When the parcel changed hands (the driver's event time), not when it was reported.
        done_at=stop.delivered_at or stop.done_at,
        late=False,
    )
    return replace(card, late=rules.stop_is_late(card, now))
