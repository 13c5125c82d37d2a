"""Migration 0006_drivers creates exactly what gateway/drivers/tables.py declares (both
backends)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.drivers import tables
from gateway.schema import metadata

MINE = {
    t.name
    for t in (
        tables.drivers,
        tables.driver_keys,
        tables.routes,
        tables.route_stops,
        tables.driver_positions,
        tables.driver_alerts,
        tables.proofs,
    )
}


def _tables_named(diff: Any) -> set[str]:
    """Every table name a difference mentions (columns come as lists of tuples)."""
    names: set[str] = set()
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item[1:]:
            for candidate in (part, getattr(part, "table", None)):
                name = getattr(candidate, "name", candidate)
                if isinstance(name, str):
                    names.add(name)
    return names


async def test_the_migration_matches_the_tables(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)

    assert [d for d in differences if _tables_named(d) & MINE] == []
    assert set(metadata.tables) >= MINE
