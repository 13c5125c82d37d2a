"""The reconciler: the database says which work is owed; queue again each job Redis lost.

Redis may come back empty (no persistence, a failover, a flush): jobs that were queued, deferred
with arq's `Retry(defer=...)` or running are gone, but the rows that describe the work are not.
Each area contributes a finder (gateway/recovery.py lists them) that reads, with an indexed and
bounded query, the work that is due: a shipment change not fanned out, a notification due to
be sent, a store webhook message due. Job ids are derived from the work, so queueing one that
arq still holds is a no-op (`restore_missing`), and N workers may reconcile at once.

It runs as an arq cron job on every worker, and in every relay at start-up and after an outage.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.platform.db import READ_ONLY
from gateway.platform.enqueue import restore_missing
from gateway.platform.metrics import JOBS_RESTORED
from gateway.platform.outbox import PendingJob

log = logging.getLogger(__name__)

# Work younger than this is left to the path that just created it (the relay, a deferral).
GRACE: Final = timedelta(seconds=5)
BATCH: Final = 1000  # per finder and run: the oldest due work first

# (connection, due before, now, at most) -> the jobs that carry that work, oldest first.
Finder = Callable[[AsyncConnection, datetime, datetime, int], Awaitable[list[PendingJob]]]


async def reconcile(
    engine: AsyncEngine, redis: ArqRedis, finders: Sequence[Finder], *, batch: int = BATCH
) -> dict[str, int]:
    """Queue every due job arq does not hold; returns how many were queued, by function."""
    now = datetime.now(UTC)
    owed: list[PendingJob] = []
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        for find in finders:
            owed += await find(conn, now - GRACE, now, batch)
        await conn.rollback()
    restored = set(await restore_missing(redis, [(j.job_id, j.function, j.args) for j in owed]))
    counts = Counter(str(job.function) for job in owed if job.job_id in restored)
    for function, count in counts.items():
        JOBS_RESTORED.labels(function).inc(count)
    if counts:
        log.warning("reconciler: queued again %s (their jobs were gone from Redis)", dict(counts))
    return dict(counts)
