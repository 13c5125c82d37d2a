"""Rows written on the raw driver (gateway/platform/bulk.py) read back as Core writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.bulk import RawCursor
from gateway.platform.bulk_writes import Write, write_all
from gateway.platform.ids import new_ids
from gateway.platform.tables import UtcDateTime, outbox

MOMENTS = (
    datetime(2026, 3, 14, 13, 12, 40, tzinfo=UTC),
    datetime(2026, 3, 14, 8, 12, 40, 123456, tzinfo=timezone(timedelta(hours=-5))),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
)


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_timestamps_are_stored_as_sqlalchemy_stores_them(moment: datetime) -> None:
    dialect = sqlite.dialect()
    fast = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    core = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and core is not None
    assert fast(moment) == core(moment.astimezone(UTC).replace(tzinfo=None))


def test_sqlite_refuses_naive_timestamps() -> None:
    dialect = sqlite.dialect()
    fast = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 3, 14, 13, 12, 40))
    assert fast(None) is None


def test_ids_drawn_together_are_distinct_ordered_and_shaped_like_new_id() -> None:
    ids = new_ids("shp", 1000)
    assert len(set(ids)) == 1000
    assert all(len(i) == len("shp_") + 24 and i.startswith("shp_") for i in ids)
    later = new_ids("shp", 1)[0]
    assert max(ids)[:16] <= later[:16]  # the millisecond prefix never goes backwards


async def test_raw_rows_are_stored_exactly_as_core_stores_them(engine: AsyncEngine) -> None:
    """Same values, one row through Core and one through the raw driver: same stored text."""
    created = datetime(2026, 3, 14, 8, 12, 40, tzinfo=timezone(timedelta(hours=-5)))
    values = {"function": "f", "args": ["x", None, 3], "created_at": created}

    def write(conn: sa.Connection) -> None:
        conn.execute(outbox.insert().values(job_id="core", enqueued_at=None, **values))
        cursor = RawCursor(conn)
        columns = ("job_id", "function", "args", "created_at", "enqueued_at")
        bind = cursor.binder(outbox, columns)
        row = bind({"job_id": "raw", "enqueued_at": None, **values})
        cursor.executemany(cursor.insert_sql(outbox, columns, ignore_conflicts=True), [row])

    async with engine.begin() as conn:
        await conn.run_sync(write)
        stored = await conn.exec_driver_sql(
            "SELECT job_id, function, args, created_at, enqueued_at FROM outbox ORDER BY job_id"
        )
        core, raw = stored.all()
    assert (core[0], raw[0]) == ("core", "raw")
    assert tuple(core)[1:] == tuple(raw)[1:]


async def test_combined_writes_store_and_update_as_core_does(engine: AsyncEngine) -> None:
    """write_all (one statement on PostgreSQL): inserts, an ignored conflict, an update by key."""
    created = datetime(2026, 3, 14, 13, 12, 40, 5, tzinfo=UTC)
    later = created + timedelta(minutes=5)
    columns = ("job_id", "function", "args", "created_at")

    def write(conn: sa.Connection) -> None:
        conn.execute(
            outbox.insert().values(job_id="core", function="f", args=[1], created_at=created)
        )
        conn.execute(outbox.update().where(outbox.c.job_id == "core").values(enqueued_at=later))
        cursor = RawCursor(conn)
        rows = [
            {"job_id": j, "function": "f", "args": [1], "created_at": created} for j in ("a", "b")
        ]
        write_all(cursor, [Write(outbox, columns, rows, ignore_conflicts=True)])
        write_all(
            cursor,
            [
                Write(outbox, columns, rows[:1], ignore_conflicts=True),  # already there: ignored
                Write(
                    outbox,
                    ("enqueued_at", "job_id"),
                    [{"enqueued_at": later, "job_id": "a"}],
                    key="job_id",
                ),
            ],
        )

    async with engine.begin() as conn:
        await conn.run_sync(write)
        stored = await conn.exec_driver_sql(
            "SELECT job_id, function, args, created_at, enqueued_at FROM outbox ORDER BY job_id"
        )
        a, b, core = stored.all()
    assert tuple(a)[1:] == tuple(core)[1:]  # inserted, then updated: as Core wrote it
    assert b[4] is None and tuple(b)[1:4] == tuple(core)[1:4]
