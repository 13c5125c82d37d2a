"""Outbox rows: work committed with its cause, waiting for the relay to hand it to arq."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.bulk import RawCursor
from gateway.platform.tables import outbox
from gateway.platform.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class PendingJob:
    job_id: str
    function: str
    args: list[Any]


_IDS_PER_STATEMENT: Final = 500

_ADDED: ContextVar[list[PendingJob] | None] = ContextVar("outbox_jobs_added", default=None)


@contextmanager
def collect_added_jobs() -> Iterator[list[PendingJob]]:
    """Collect the jobs this task adds with `add_job` (use it around the transaction only)."""
    collected: list[PendingJob] = []
    token = _ADDED.set(collected)
    try:
        yield collected
    finally:
        _ADDED.reset(token)


async def claim_pending(
    conn: AsyncConnection, limit: int, *, created_before: datetime | None = None
) -> list[PendingJob]:
    """Oldest rows not yet handed to arq (read only: arq's job-id check stops doubles)."""
    query = (
        sa.select(outbox.c.job_id, outbox.c.function, outbox.c.args)
        .where(outbox.c.enqueued_at.is_(None))
        .order_by(outbox.c.created_at)
        .limit(limit)
    )
    if created_before is not None:
        query = query.where(outbox.c.created_at <= created_before)
    return [
        PendingJob(r.job_id, r.function, list(r.args)) for r in (await conn.execute(query)).all()
    ]


async def mark_enqueued(conn: AsyncConnection, job_ids: list[str]) -> None:
    if job_ids:
        await conn.execute(
            outbox.update()
            .where(outbox.c.job_id.in_(job_ids))
            .values(enqueued_at=datetime.now(UTC))
        )


def record_enqueued(conn: sa.Connection, job_ids: Sequence[str], now: datetime) -> None:
    """`mark_enqueued` inside a synchronous transaction (the ingest writer's), on the raw driver."""
    cursor = RawCursor(conn)
    bind = cursor.binder(outbox, ("enqueued_at",))
    for start in range(0, len(job_ids), _IDS_PER_STATEMENT):
        chunk = job_ids[start : start + _IDS_PER_STATEMENT]
        sql = cursor.update_sql(outbox, {"enqueued_at": "{}"}, where_in=("job_id", len(chunk)))
        cursor.execute(sql, [*bind({"enqueued_at": now}), *chunk])


async def count_pending(conn: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.enqueued_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


async def purge_enqueued(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(outbox.delete().where(outbox.c.enqueued_at < before))
    return int(result.rowcount or 0)


async def add_job(conn: AsyncConnection, function: str, job_id: str, *args: Any) -> None:
    """Queue `function(*args)` with the caller's transaction; the id makes a retry a no-op.

    Job ids must be derived from what caused the work, so the same cause never yields two rows.
    Inside `collect_added_jobs()` the job is also remembered, so the caller can hand exactly its
    own jobs to arq after commit instead of waiting for the relay.
    """
    collected = _ADDED.get()
    if collected is not None:
        collected.append(PendingJob(job_id, function, list(args)))
    await conn.execute(
        insert_ignore(
            outbox,
            conn.dialect.name,
            job_id=job_id,
            function=function,
            args=list(args),
            created_at=datetime.now(UTC),
        )
    )
