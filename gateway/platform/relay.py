"""Outbox relay: moves committed work from the outbox table to arq.

Ingest never talks to Redis, so it keeps accepting while Redis is down; the relay catches up
when Redis is back. arq refuses a second job with the same id, and every job is idempotent, so
two relays (two processes) racing on the same row do no harm.

While Redis or the database is away the relay backs off (up to MAX_BACKOFF_S) and ignores
`wake()`, so a stream of accepted webhooks does not turn into a stream of failing attempts.
At start-up, and again once an outage is over, it runs the reconciler (gateway/platform/
reconcile.py): work relayed before the outage may have been lost with Redis.

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
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
        finders: Sequence[Finder] = (),
        record: Record | None = None,
    ) -> None:
        """`finders`: where the reconciler looks at start-up and after an outage (none: never).
        `record`: told the ids of handed jobs once they are in arq (else they are marked here)."""
        self._engine = engine
        self._redis = redis
        self._poll_s = poll_s
        self._finders = tuple(finders)
        self._record = record
        self._handed: list[PendingJob] = []
        self._drain_now = True  # the first round drains
        self._wake = asyncio.Event()
        self._stopping = False
        self._backoff = Backoff(poll_s, MAX_BACKOFF_S)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: relay now instead of at the next poll.

        While backing off from a failure it changes nothing: the rows wait in the outbox.
        """
        self._drain_now = True
        self._wake.set()

    def hand(self, jobs: Sequence[PendingJob]) -> None:
        """Jobs just committed to the outbox: to arq now, without reading them back. While
        backing off they are not kept: they wait in the outbox for the drain after the outage."""
        if self._backoff.failures or self._stopping:
            return
        self._handed.extend(jobs)
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
        """Relay what was pending when called; returns how many jobs were handed to arq.

        Rows committed meanwhile wait for the next round: under steady load there are always
        a few just handed over and not yet recorded, and chasing them would never end."""
        total, began = 0, datetime.now(UTC)
        while True:
            async with self._engine.connect() as conn:
                await conn.execution_options(**{READ_ONLY: True})
                pending = await claim_pending(conn, BATCH, created_before=began)
                await conn.rollback()
            if not pending:
                return total
            await hand_over(self._engine, self._redis, pending)
            total += len(pending)

    async def _run(self) -> None:
        reconcile_due = bool(self._finders)  # at start-up: Redis may have lost jobs meanwhile
        delay, drained_at = 0.0, 0.0
        while True:
            await self._pause(delay)
            if self._stopping:
                return
            try:
                await self._relay_handed()
                loop = asyncio.get_running_loop()
                due = self._drain_now or loop.time() >= drained_at + self._poll_s
                if due or self._backoff.failures:
                    self._drain_now = False
                    drained_at = loop.time()
                    await self.drain()
                if reconcile_due:
                    await reconcile(self._engine, self._redis, self._finders)
                    reconcile_due = False
                if self._backoff.failures:
                    log.info("outbox relay reconnected after %d failures", self._backoff.failures)
                self._backoff.reset()
                delay = max(0.0, drained_at + self._poll_s - asyncio.get_running_loop().time())
            except Exception as exc:  # Redis or database away: keep the rows, try again later
                self._handed.clear()  # in the table still: the drain after the outage has them
                OUTBOX_RELAY_ERRORS.inc()
                reconcile_due = bool(self._finders)  # once it is over, look for lost jobs
                delay = self._backoff.next_delay_s()
                if unreachable(exc):
                    log.warning(
                        "outbox relay failed (%s); retrying in %.1fs", type(exc).__name__, delay
                    )
                else:
                    log.exception("outbox relay failed; retrying in %.1fs", delay)

    async def _relay_handed(self) -> None:
        while self._handed:
            jobs, self._handed = self._handed[:BATCH], self._handed[BATCH:]
            if self._record is None:
                await hand_over(self._engine, self._redis, jobs)
                continue
            await enqueue_many(self._redis, [(j.job_id, j.function, j.args) for j in jobs])
            OUTBOX_RELAYED.inc(len(jobs))
            self._record([job.job_id for job in jobs])

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
