"""Outbox rows: work committed with its cause, waiting for the relay to hand it to arq."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.tables import outbox
from gateway.platform.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class PendingJob:
    job_id: str
    function: str
    args: list[Any]


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


async def claim_pending(conn: AsyncConnection, limit: int) -> list[PendingJob]:
    """Oldest rows not yet handed to arq (read only: arq's job-id check stops doubles)."""
    query = (
        sa.select(outbox.c.job_id, outbox.c.function, outbox.c.args)
        .where(outbox.c.enqueued_at.is_(None))
        .order_by(outbox.c.created_at)
        .limit(limit)
    )
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
