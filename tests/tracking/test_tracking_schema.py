"""Migrations 0004 and 0010_links_chat create exactly the tables gateway/tracking/tables.py
declares (both backends)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.schema import metadata
from gateway.tracking.tables import ratings, tracking_link_opens, tracking_links

MINE = {ratings.name, tracking_link_opens.name, tracking_links.name}


def _table_of(diff: Any) -> str | None:
    if isinstance(diff, list):  # column modifications come as a list of tuples
        diff = diff[0]
    for item in diff[1:]:
        name = getattr(item, "name", None) if hasattr(item, "columns") else None
        table = getattr(item, "table", None)
        if table is not None:
            return str(table.name)
        if name in MINE:
            return str(name)
        if isinstance(item, str) and item in MINE:
            return item
    return None


async def test_migration_matches_the_tables(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)

    assert [d for d in differences if _table_of(d) in MINE] == []
