"""Live positions in Redis: the newest position per driver, and pub/sub for live viewers.

After each committed ping batch the gateway writes the batch's newest accepted position, only if
it is newer than the one stored (batches of one driver may finish out of order), and publishes it:

- `DRIVER_POSITION_KEY + driver_id`: hash `{"ts": <recorded_at, epoch ms>, "json": <position>}`
- `FLEET_POSITIONS_KEY + tenant_id`: hash `{driver_id: <position>}` (a dispatcher map's start)
- `LIVE_DRIVER_CHANNEL + driver_id` and `LIVE_FLEET_CHANNEL + tenant_id`: `<position>`
- `LIVE_SHIPMENT_CHANNEL + shipment_id`: `{"type": "eta", ...}` when a stop's ETA is reported

`<position>` is JSON: `{"type": "position", "driver_id", "tenant_id", "route_id", "lat", "lon",
"recorded_at" (ISO, Z), "accuracy_m", "speed_mps", "heading", "trusted"}`.

Redis is not the record (the database is): a failure here is logged and costs live viewers one
update, never the batch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from redis.asyncio import Redis

from gateway.domain.events import format_utc
from gateway.drivers.rules.pings import AcceptedPing
from gateway.platform.names import (
    DRIVER_POSITION_KEY,
    FLEET_POSITIONS_KEY,
    LIVE_DRIVER_CHANNEL,
    LIVE_FLEET_CHANNEL,
    LIVE_SHIPMENT_CHANNEL,
)

log = logging.getLogger(__name__)

POSITION_TTL_S: Final = 7 * 86_400  # a driver silent for a week has no live position
# KEYS: driver hash, fleet hash. ARGV: ts ms, position JSON, driver id, channels, ttl.
_ADVANCE_LUA: Final = """
local current = redis.call('hget', KEYS[1], 'ts')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('hset', KEYS[1], 'ts', ARGV[1], 'json', ARGV[2])
redis.call('expire', KEYS[1], ARGV[6])
redis.call('hset', KEYS[2], ARGV[3], ARGV[2])
redis.call('publish', ARGV[4], ARGV[2])
redis.call('publish', ARGV[5], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class EtaUpdate:
    shipment_id: str
    route_id: str
    eta: datetime
    previous: datetime | None


def position_json(
    tenant_id: str, driver_id: str, route_id: str | None, accepted: AcceptedPing
) -> str:
    ping = accepted.ping
    return json.dumps(
        {
            "type": "position",
            "driver_id": driver_id,
            "tenant_id": tenant_id,
            "route_id": route_id,
            "lat": ping.lat,
            "lon": ping.lon,
            "recorded_at": format_utc(ping.recorded_at),
            "accuracy_m": ping.accuracy_m,
            "speed_mps": ping.speed_mps,
            "heading": ping.heading,
            "trusted": accepted.trusted,
        },
        separators=(",", ":"),
    )


async def publish_position(
    redis: Redis, tenant_id: str, driver_id: str, route_id: str | None, newest: AcceptedPing
) -> bool:
    """Store and announce `newest` unless a newer position is already there."""
    script = redis.register_script(_ADVANCE_LUA)
    moved = await script(
        keys=[DRIVER_POSITION_KEY + driver_id, FLEET_POSITIONS_KEY + tenant_id],
        args=[
            int(newest.ping.recorded_at.timestamp() * 1000),
            position_json(tenant_id, driver_id, route_id, newest),
            driver_id,
            LIVE_DRIVER_CHANNEL + driver_id,
            LIVE_FLEET_CHANNEL + tenant_id,
            POSITION_TTL_S,
        ],
    )
    return bool(moved)


async def publish_etas(redis: Redis, updates: list[EtaUpdate]) -> None:
    if not updates:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for update in updates:
            message = {
                "type": "eta",
                "shipment_id": update.shipment_id,
                "route_id": update.route_id,
                "eta": format_utc(update.eta),
                "previous_eta": format_utc(update.previous) if update.previous else None,
            }
            pipe.publish(LIVE_SHIPMENT_CHANNEL + update.shipment_id, json.dumps(message))
        await pipe.execute()


async def forget_driver(redis: Redis, tenant_id: str, driver_id: str) -> None:
    """A deleted driver leaves the live map."""
    await redis.delete(DRIVER_POSITION_KEY + driver_id)
    await redis.hdel(FLEET_POSITIONS_KEY + tenant_id, driver_id)  # type: ignore[misc]


async def fleet_positions(redis: Redis, tenant_id: str) -> dict[str, dict[str, Any]]:
    """{driver id: position} of every driver of the store that has one."""
    raw: dict[bytes, bytes] = await redis.hgetall(FLEET_POSITIONS_KEY + tenant_id)  # type: ignore[misc]
    return {k.decode(): json.loads(v) for k, v in raw.items()}
