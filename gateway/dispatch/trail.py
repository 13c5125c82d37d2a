"""Where a driver has been today: their trusted positions from the history, thinned out for the
map (a dashed line next to the planned path shows a detour at a glance)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.dispatch.rules import Day
from gateway.drivers import store as driver_store
from gateway.drivers import store_positions

MAX_READ: Final = 20_000  # a long day of pings every few seconds
MAX_POINTS: Final = 800  # what a map line needs


async def driver_trail(
    engine: AsyncEngine, tenant_id: str, driver_id: str, day: Day, now: datetime
) -> list[list[float]] | None:
    """[[lat, lon], ...] oldest first, or None when the driver is not the store's."""
    until = min(day.end, now)
    async with engine.connect() as conn:
        if await driver_store.get(conn, tenant_id, driver_id) is None:
            return None
        found = await store_positions.history(conn, driver_id, day.start, until, MAX_READ)
    points = [[p.lat, p.lon] for p in found if p.trusted]
    return thin(points, MAX_POINTS)


def thin(points: list[list[float]], most: int) -> list[list[float]]:
    """At most `most` points, evenly spread, always keeping the newest."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]
