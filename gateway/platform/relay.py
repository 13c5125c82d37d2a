"""Outbox relay: moves committed work from the outbox table to arq.

Ingest never talks to Redis, so it keeps accepting while Redis is down; the relay catches up
when Redis is back. arq refuses a second job with the same id, and every job is idempotent, so
two relays (two processes) racing on the same row do no harm.

While Redis or the database is away the relay backs off (up to MAX_BACKOFF_S) and ignores
`wake()`, so a stream of accepted webhooks does not turn into a stream of failing attempts.
At start-up, and again once an outage is over, it runs the reconciler (gateway/platform/
reconcile.py): work relayed before the outage may have been lost with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.db import READ_ONLY
from gateway.platform.enqueue import enqueue_many
from gateway.platform.metrics import OUTBOX_RELAY_ERRORS, OUTBOX_RELAYED
from gateway.platform.outages import Backoff, unreachable
from gateway.platform.outbox import PendingJob, claim_pending, mark_enqueued
from gateway.platform.reconcile import Finder, reconcile

log = logging.getLogger(__name__)

BATCH: Final = 200
MAX_BACKOFF_S: Final = 30.0
STOP_WAIT_S: Final = 10.0  # a round under way gets this long to finish at shutdown


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
        finders: Sequence[Finder] = (),
    ) -> None:
        """`finders`: where the reconciler looks at start-up and after an outage (none: never)."""
        self._engine = engine
        self._redis = redis
        self._poll_s = poll_s
        self._finders = tuple(finders)
        self._wake = asyncio.Event()
        self._stopping = False
        self._backoff = Backoff(poll_s, MAX_BACKOFF_S)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: relay now instead of at the next poll.

        While backing off from a failure it changes nothing: the rows wait in the outbox.
        """
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Let the round under way finish (cancelling a database call mid-way can leave its
        connection, and on SQLite the write lock, behind), then stop; cancel only if it hangs."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self) -> int:
        """Relay everything pending; returns how many jobs were handed to arq."""
        total = 0
        while True:
            async with self._engine.connect() as conn:
                await conn.execution_options(**{READ_ONLY: True})
                pending = await claim_pending(conn, BATCH)
                await conn.rollback()
            if not pending:
                return total
            await hand_over(self._engine, self._redis, pending)
            total += len(pending)

    async def _run(self) -> None:
        reconcile_due = bool(self._finders)  # at start-up: Redis may have lost jobs meanwhile
        delay = 0.0
        while True:
            await self._pause(delay)
            if self._stopping:
                return
            try:
                await self.drain()
                if reconcile_due:
                    await reconcile(self._engine, self._redis, self._finders)
                    reconcile_due = False
                if self._backoff.failures:
                    log.info("outbox relay reconnected after %d failures", self._backoff.failures)
                self._backoff.reset()
                delay = self._poll_s
            except Exception as exc:  # Redis or database away: keep the rows, try again later
                OUTBOX_RELAY_ERRORS.inc()
                reconcile_due = bool(self._finders)  # once it is over, look for lost jobs
                delay = self._backoff.next_delay_s()
                if unreachable(exc):
                    log.warning(
                        "outbox relay failed (%s); retrying in %.1fs", type(exc).__name__, delay
                    )
                else:
                    log.exception("outbox relay failed; retrying in %.1fs", delay)

    async def _pause(self, delay_s: float) -> None:
        """Wait `delay_s`; new rows (`wake`) end the wait early, except while backing off."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay_s
        while not self._stopping:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=remaining)
            self._wake.clear()
            if not self._backoff.failures:
                return
