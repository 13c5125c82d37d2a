"""Position history: every accepted ping, written in one statement per batch, kept for the
retention period (`LASTMILE_POSITION_RETENTION_DAYS`, default 30) and then purged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.rules.pings import AcceptedPing
from gateway.drivers.tables import driver_positions

P = driver_positions.c
# Built once: at thousands of rows a second, statement construction is a visible cost.
_INSERT: Final = driver_positions.insert()
PURGE_CHUNK: Final = 50_000


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float
    recorded_at: datetime
    accuracy_m: float | None
    speed_mps: float | None
    heading: float | None
    trusted: bool
    route_id: str | None


async def insert_accepted(
    conn: AsyncConnection,
    tenant_id: str,
    driver_id: str,
    route_id: str | None,
    accepted: Sequence[AcceptedPing],
    received_at: datetime,
) -> None:
    if not accepted:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "driver_id": driver_id,
            "route_id": route_id,
            "lat": a.ping.lat,
            "lon": a.ping.lon,
            "recorded_at": a.ping.recorded_at,
            "received_at": received_at,
            "accuracy_m": a.ping.accuracy_m,
            "speed_mps": a.ping.speed_mps,
            "heading": a.ping.heading,
            "trusted": a.trusted,
        }
        for a in accepted
    ]
    await conn.execute(_INSERT, rows)


async def history(
    conn: AsyncConnection, driver_id: str, since: datetime, until: datetime, limit: int
) -> list[Position]:
    """The driver's positions in time order (recorded_at in [since, until))."""
    query = (
        sa.select(driver_positions)
        .where(P.driver_id == driver_id, P.recorded_at >= since, P.recorded_at < until)
        .order_by(P.recorded_at, P.id)
        .limit(limit)
    )
    return [
        Position(
            r.lat, r.lon, r.recorded_at, r.accuracy_m, r.speed_mps, r.heading, r.trusted, r.route_id
        )
        for r in (await conn.execute(query)).all()
    ]


async def purge_chunk(conn: AsyncConnection, before: datetime) -> int:
    """Delete up to PURGE_CHUNK positions recorded before `before`; returns how many."""
    oldest = (
        sa.select(P.id).where(P.recorded_at < before).order_by(P.recorded_at).limit(PURGE_CHUNK)
    )
    result = await conn.execute(driver_positions.delete().where(P.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount or 0)
