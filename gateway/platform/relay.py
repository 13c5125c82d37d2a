"""Outbox relay: moves committed work from the outbox table to arq.

Ingest never talks to Redis, so it keeps accepting while Redis is down; the relay catches up
when Redis is back. arq refuses a second job with the same id, and every job is idempotent, so
two relays (two processes) racing on the same row do no harm.

Two ways in: a writer that just committed outbox rows hands them over (`hand`), and they go to
arq without being read back; and every `poll_s` (or on `wake`) the relay drains what is pending
in the table, which catches rows whose hand-over was lost (a crash, Redis away) and rows other
processes wrote. With a `record` callback, handed jobs are reported relayed to their writer,
which records that in its next transaction; otherwise the relay marks them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.db import READ_ONLY
from gateway.platform.enqueue import enqueue_many
from gateway.platform.metrics import OUTBOX_RELAY_ERRORS, OUTBOX_RELAYED
from gateway.platform.outbox import PendingJob, claim_pending, mark_enqueued

log = logging.getLogger(__name__)

BATCH: Final = 200
MAX_BACKOFF_S: Final = 30.0
Record = Callable[[Sequence[str]], None]


async def hand_over(engine: AsyncEngine, redis: ArqRedis, jobs: list[PendingJob]) -> None:
    """Enqueue committed outbox jobs and mark them relayed. Jobs call it for the follow-up work
    they just committed, rather than draining the whole outbox (which made jobs contend)."""
    if not jobs:
        return
    await enqueue_many(redis, [(j.job_id, j.function, j.args) for j in jobs])
    async with engine.begin() as conn:
        await mark_enqueued(conn, [job.job_id for job in jobs])
    OUTBOX_RELAYED.inc(len(jobs))


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: ArqRedis,
        *,
        poll_s: float = 1.0,
        record: Record | None = None,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._poll_s = poll_s
        self._record = record
        self._wake = asyncio.Event()
        self._drain_now = False
        self._handed: list[PendingJob] = []
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: drain now instead of at the next poll."""
        self._drain_now = True
        self._wake.set()

    def hand(self, jobs: Sequence[PendingJob]) -> None:
        """Jobs just committed to the outbox: to arq now, without reading them back."""
        self._handed.extend(jobs)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self) -> int:
        """Relay what was pending when called; returns how many jobs were handed to arq.

        Rows committed meanwhile wait for the next round: under steady load there are always
        a few just handed over and not yet recorded, and chasing them would never end."""
        total, began = 0, datetime.now(UTC)
        while True:
            async with self._engine.connect() as conn:
                reader = await conn.execution_options(**{READ_ONLY: True})
                pending = await claim_pending(reader, BATCH, created_before=began)
                await conn.rollback()
            if not pending:
                return total
            await hand_over(self._engine, self._redis, pending)  # marked before the next read
            total += len(pending)

    async def _relay_handed(self) -> None:
        while self._handed:
            jobs, self._handed = self._handed[:BATCH], self._handed[BATCH:]
            try:
                if self._record is None:
                    await hand_over(self._engine, self._redis, jobs)
                    continue
                await enqueue_many(self._redis, [(j.job_id, j.function, j.args) for j in jobs])
            except Exception:
                self._handed.clear()  # still in the table: the next drain brings them
                raise
            OUTBOX_RELAYED.inc(len(jobs))
            self._record([job.job_id for job in jobs])

    async def _run(self) -> None:
        delay = self._poll_s
        drained_at = time.monotonic()
        while True:
            timeout = max(0.0, drained_at + delay - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()
            try:
                await self._relay_handed()
                if self._drain_now or time.monotonic() >= drained_at + delay:
                    self._drain_now = False
                    drained_at = time.monotonic()
                    await self.drain()
                delay = self._poll_s
            except Exception as exc:  # Redis or database away: keep the rows, try again later
                OUTBOX_RELAY_ERRORS.inc()
                drained_at = time.monotonic()
                delay = min(max(delay * 2, self._poll_s), MAX_BACKOFF_S)
                log.warning(
                    "outbox relay failed (%s); retrying in %.1fs", type(exc).__name__, delay
                )
