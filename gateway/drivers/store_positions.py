"""Position history: every accepted ping, written in one statement per batch, kept for the
retention period (`LASTMILE_POSITION_RETENTION_DAYS`, default 30) and then purged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.rules.pings import AcceptedPing
from gateway.drivers.tables import driver_positions

P = driver_positions.c
PURGE_CHUNK: Final = 50_000
_COLUMNS: Final = (
    "tenant_id",
    "driver_id",
    "route_id",
    "lat",
    "lon",
    "recorded_at_ms",
    "received_at_ms",
    "accuracy_m",
    "speed_mps",
    "heading",
    "trusted",
)


def _insert_sql(dialect: str) -> str:
    """The driver-level INSERT: at 20,000 rows a second, SQLAlchemy's per-value parameter
    processing was a quarter of a batch's database time; these values need none."""
    marks = ["?"] * len(_COLUMNS)
    if dialect == "postgresql":
        marks = [f"${n}" for n in range(1, len(_COLUMNS) + 1)]  # asyncpg's numeric style
    table = driver_positions.name
    return f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"  # noqa: S608 - constant names


_INSERT_SQL: Final = {dialect: _insert_sql(dialect) for dialect in ("sqlite", "postgresql")}


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
    received_ms = to_ms(received_at)
    rows = [
        (
            tenant_id,
            driver_id,
            route_id,
            a.ping.lat,
            a.ping.lon,
            to_ms(a.ping.recorded_at),
            received_ms,
            a.ping.accuracy_m,
            a.ping.speed_mps,
            a.ping.heading,
            int(a.trusted),
        )
        for a in accepted
    ]
    await conn.exec_driver_sql(_INSERT_SQL[conn.dialect.name], rows)


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


async def recorded_ms_between(
    conn: AsyncConnection, driver_id: str, first_ms: int, last_ms: int
) -> set[int]:
    """The recorded times (epoch ms) of the driver's stored positions in [first_ms, last_ms]."""
    query = sa.select(P.recorded_at_ms).where(
        P.driver_id == driver_id, P.recorded_at_ms >= first_ms, P.recorded_at_ms <= last_ms
    )
    return set((await conn.execute(query)).scalars().all())


async def history(
    conn: AsyncConnection, driver_id: str, since: datetime, until: datetime, limit: int
) -> list[Position]:
    """The driver's positions in time order (recorded_at in [since, until))."""
    query = (
        sa.select(driver_positions)
        .where(
            P.driver_id == driver_id,
            P.recorded_at_ms >= to_ms(since),
            P.recorded_at_ms < to_ms(until),
        )
        .order_by(P.recorded_at_ms, P.id)
        .limit(limit)
    )
    return [
        Position(
            r.lat,
            r.lon,
            from_ms(r.recorded_at_ms),
            r.accuracy_m,
            r.speed_mps,
            r.heading,
            bool(r.trusted),
            r.route_id,
        )
        for r in (await conn.execute(query)).all()
    ]


async def purge_chunk(conn: AsyncConnection, before: datetime) -> int:
    """Delete up to PURGE_CHUNK positions recorded before `before`; returns how many."""
    oldest = (
        sa.select(P.id)
        .where(P.recorded_at_ms < to_ms(before))
        .order_by(P.recorded_at_ms)
        .limit(PURGE_CHUNK)
    )
    result = await conn.execute(driver_positions.delete().where(P.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount or 0)
