"""The `live` object of the status JSON, read for one shipment (the page, the widget, the stream).

Reads: the shipment's place in its driver's day (gateway/drivers/shipment_view.py), its
destination (shipments store), and the driver's newest position from Redis
(`DRIVER_POSITION_KEY`, written by gateway/drivers/live.py), falling back to the database's
last ping when Redis is away. The rules are in gateway/live/rules.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from redis.exceptions import RedisError

from gateway.drivers.model import OPEN_STOP_STATES, RouteStatus
from gateway.drivers.shipment_view import LiveStop, live_stop
from gateway.live import rules
from gateway.live.rules import Position
from gateway.platform.appkeys import DB, REDIS
from gateway.platform.db import READ_ONLY
from gateway.platform.names import DRIVER_POSITION_KEY
from gateway.shipments import store as shipment_store
from gateway.tracking.page_text import PageLocale

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveView:
    json: dict[str, Any]  # the `live` object
    driver_id: str | None  # the driver whose positions this viewer may see now (else None)
    destination: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class LiveCard:
    """What the tracking page's live card is rendered from (templates/pages/_live.html.j2)."""

    live: dict[str, Any]  # the `live` object (also the map's first picture: data-live)
    static_url: str  # /static/<version>/
    tiles: str
    attribution: str


async def live_view(
    app: web.Application,
    shipment_id: str,
    *,
    locale: PageLocale,
    zone: ZoneInfo,
    now: datetime,
) -> LiveView:
    """The `live` object for `shipment_id` and who to follow for it."""
    async with app[DB].connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        stop = await live_stop(conn, shipment_id)
        shipment = await shipment_store.get_by_id(conn, shipment_id)
    destination = _destination(stop, shipment.destination if shipment else None)
    eta = rules.eta_text(stop.eta, locale, zone, now) if stop and stop.eta else None
    if stop is None or not _shown(stop):
        return LiveView(rules.live_json(destination, None, [], eta), None, destination)
    position = await driver_position(app, stop)
    if position is None:
        return LiveView(rules.live_json(destination, None, [], eta), stop.driver_id, destination)
    driver = rules.driver_json(position, destination, locale, zone, now)
    at = (position.lat, position.lon)
    path = rules.remaining_path(stop.route_path, at, destination) if destination else []
    return LiveView(rules.live_json(destination, driver, path, eta), stop.driver_id, destination)


async def live_state(
    app: web.Application,
    shipment_id: str,
    *,
    locale: PageLocale,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """The `live` object of the status JSON (gateway/live/README.md, "Data contract")."""
    return (await live_view(app, shipment_id, locale=locale, zone=zone, now=now)).json


async def driver_position(app: web.Application, stop: LiveStop) -> Position | None:
    """The driver's newest position: Redis first (fresher), else the database's last ping."""
    try:
        raw = await app[REDIS].hget(DRIVER_POSITION_KEY + stop.driver_id, "json")  # type: ignore[misc]
    except (RedisError, OSError) as exc:
        log.warning("live position not read from Redis: %s", type(exc).__name__)
        raw = None
    if raw:
        found = Position.from_json(json.loads(raw))
        if found is not None:
            return found
    ping = stop.driver_position
    if ping is None:
        return None
    return Position(ping.lat, ping.lon, ping.heading, ping.recorded_at)


async def following(app: web.Application, shipment_id: str) -> str | None:
    """The driver whose positions a viewer of `shipment_id` may see now, or None."""
    async with app[DB].connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        stop = await live_stop(conn, shipment_id)
    return stop.driver_id if stop is not None and _shown(stop) else None


def _shown(stop: LiveStop) -> bool:
    return rules.shows_driver(
        stop.route_state is RouteStatus.ACTIVE,
        stop.stop_state in OPEN_STOP_STATES,
        stop.stops_before,
    )


def _destination(
    stop: LiveStop | None, destination: dict[str, Any] | None
) -> tuple[float, float] | None:
    if destination and destination.get("lat") is not None and destination.get("lon") is not None:
        return float(destination["lat"]), float(destination["lon"])
    return (stop.lat, stop.lon) if stop else None
