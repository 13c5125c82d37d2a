"""Migration 0002 creates exactly the tables gateway/notifications/tables.py describes."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.notifications import tables as notification_tables
from gateway.schema import metadata

OURS = {
    table.name
    for table in vars(notification_tables).values()
    if getattr(table, "metadata", None) is metadata
}


def _mentions_ours(diff: Any) -> bool:
    return any(name in repr(diff) for name in OURS)


async def test_migration_matches_the_tables(engine: AsyncEngine) -> None:
    assert {
        "notification_rules",
        "notification_settings",
        "notification_templates",
        "notifications",
        "sms_optouts",
        "provider_callbacks",
    } == OURS
    async with engine.connect() as conn:
        diffs = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert [d for d in diffs if _mentions_ours(d)] == []
