"""Outbox relay: moves committed work from the outbox table to arq.

Ingest never talks to Redis, so it keeps accepting while Redis is down; the relay catches up
when Redis is back. arq refuses a second job with the same id, and every job is idempotent, so
two relays (two processes) racing on the same row do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.enqueue import enqueue_many
from gateway.platform.metrics import OUTBOX_RELAY_ERRORS, OUTBOX_RELAYED
from gateway.platform.outbox import PendingJob, claim_pending, mark_enqueued

log = logging.getLogger(__name__)

BATCH: Final = 200
MAX_BACKOFF_S: Final = 30.0


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
    def __init__(self, engine: AsyncEngine, redis: ArqRedis, *, poll_s: float = 1.0) -> None:
        self._engine = engine
        self._redis = redis
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: relay now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self) -> int:
        """Relay everything pending; returns how many jobs were handed to arq."""
        total = 0
        while True:
            async with self._engine.connect() as conn:
                pending = await claim_pending(conn, BATCH)
                await conn.rollback()
            if not pending:
                return total
            await hand_over(self._engine, self._redis, pending)
            total += len(pending)

    async def _run(self) -> None:
        delay = self._poll_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
            try:
                await self.drain()
                delay = self._poll_s
            except Exception as exc:  # Redis or database away: keep the rows, try again later
                OUTBOX_RELAY_ERRORS.inc()
                delay = min(max(delay * 2, self._poll_s), MAX_BACKOFF_S)
                log.warning(
                    "outbox relay failed (%s); retrying in %.1fs", type(exc).__name__, delay
                )
