"""Migration 0011_widget_tokens creates exactly the table gateway/live/tables.py declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.live.tables import widget_tokens
from gateway.platform.migrate import alembic_config
from gateway.platform.settings import DEFAULT_DATABASE_URL
from gateway.schema import metadata

MINE = {widget_tokens.name}


def _tables_named(diff: Any) -> set[str]:
    """Every table name a compare_metadata difference mentions."""
    items = diff if isinstance(diff, list) else [diff]
    names: set[str] = set()
    for item in items:
        for part in item[1:]:
            table = getattr(part, "table", None)
            if table is not None:
                names.add(str(table.name))
            elif isinstance(part, str):
                names.add(part)
            elif hasattr(part, "columns") and hasattr(part, "name"):
                names.add(str(part.name))
    return names


async def test_migration_matches_the_tables(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)

    assert [d for d in differences if _tables_named(d) & MINE] == []


def test_the_migration_follows_the_chat_migration() -> None:
    script = ScriptDirectory.from_config(alembic_config(DEFAULT_DATABASE_URL))
    revision = script.get_revision("0011_widget_tokens")
    assert revision is not None and revision.down_revision == "0010_links_chat"
