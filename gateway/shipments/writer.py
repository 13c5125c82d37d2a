"""Group commit for carrier ingest: requests that arrive together share one transaction.

SQLite takes one writer at a time, so a transaction per request caps throughput at the commit
rate. The writer drains whatever is queued into one transaction; each request still gets its
202 only after that commit. If the batch fails, each request is retried alone so one bad
request cannot fail its neighbours.

After each commit the outbox jobs it wrote go straight to the relay (`relay_to`), which hands
them to arq without reading them back; the relay reports them relayed (`mark_relayed`) and the
next transaction records that, so relaying adds no transaction of its own on the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.db import create_engine, create_sync_sqlite_engine
from gateway.platform.metrics import INGEST_BATCH_SIZE
from gateway.platform.outages import DatabaseUnavailable, database_unreachable
from gateway.platform.outbox import PendingJob, record_enqueued
from gateway.shipments.store_ingest import IngestOutcome, IngestRequest, IngestResult, ingest_batch

log = logging.getLogger(__name__)

_Item = tuple[IngestRequest, "asyncio.Future[IngestResult]"] | None  # None: marks to record
OnCommit = Callable[[Sequence[PendingJob]], None]


class IngestWriter:
    def __init__(self, engine: AsyncEngine, *, writers: int = 1, max_batch: int = 64) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._max_batch = max_batch
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []
        self._on_commit: OnCommit | None = None
        self._relayed: list[str] = []  # outbox job ids handed to arq, not yet recorded
        # SQLite: the whole batch runs in one dedicated thread on a blocking engine, one hop
        # instead of one per statement through aiosqlite's thread.
        self._sqlite: sa.Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._postgres: AsyncEngine | None = None
        if engine.dialect.name == "postgresql":
            # Its own pool without pre-ping (three round trips a batch); see _transaction.
            url = engine.url.render_as_string(hide_password=False)
            self._postgres = create_engine(url, pool_size=writers, pre_ping=False)
        if engine.dialect.name == "sqlite":
            self._sqlite = create_sync_sqlite_engine(
                engine.url.render_as_string(hide_password=False), poll_write_lock=True
            )
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-sqlite")

    def relay_to(self, on_commit: OnCommit) -> None:
        """After each commit, `on_commit(jobs)` gets the outbox jobs it wrote."""
        self._on_commit = on_commit

    def mark_relayed(self, job_ids: Sequence[str]) -> None:
        """Record, with the next transaction, that these outbox jobs reached arq."""
        wake = not self._relayed
        self._relayed.extend(job_ids)
        if wake and job_ids:
            self._queue.put_nowait(None)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="ingest-writer") for _ in range(self._writers)
        ]

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Both block until the SQLite thread is done: off the event loop, which other
        # connections still need to finish (and release SQLite's lock) meanwhile.
        if self._thread is not None:
            await asyncio.to_thread(self._thread.shutdown, wait=True)
        if self._sqlite is not None:
            await asyncio.to_thread(self._sqlite.dispose)
        if self._postgres is not None:
            await self._postgres.dispose()

    async def submit(self, request: IngestRequest) -> IngestResult:
        """Returns once the request's events are committed; raises if they could not be
        (DatabaseUnavailable when the database is away: nothing was stored)."""
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self._max_batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                batch = [item for item in items if item is not None]
                relayed, self._relayed = self._relayed, []
                await self._commit(batch, relayed)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _commit(
        self, batch: list[tuple[IngestRequest, asyncio.Future[IngestResult]]], relayed: list[str]
    ) -> None:
        if not batch and not relayed:
            return  # a wake-up whose marks an earlier batch already took
        if batch:
            INGEST_BATCH_SIZE.observe(len(batch))
        requests = [request for request, _ in batch]
        try:
            outcome = await self._transaction(requests, relayed)
        except Exception as exc:
            if relayed:  # harmless to lose: the relay's poll re-sends, arq drops the doubles
                log.warning("recording %d relayed outbox jobs failed", len(relayed))
            if database_unreachable(exc):  # one by one would fail the same way
                log.warning("ingest: database unreachable (%s)", type(exc).__name__)
                for _, future in batch:
                    _fail(future, DatabaseUnavailable())
                return
            if len(batch) == 1:
                log.exception("ingest transaction failed")
                _fail(batch[0][1], RuntimeError("ingest transaction failed"))
                return
            if batch:
                log.warning("ingest batch of %d failed; retrying one by one", len(batch))
            for item in batch:
                await self._commit([item], [])
            return
        if outcome.jobs and self._on_commit is not None:
            self._on_commit(outcome.jobs)
        for (_, future), result in zip(batch, outcome.results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _transaction(
        self, requests: list[IngestRequest], relayed: list[str]
    ) -> IngestOutcome:
        if self._sqlite is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, self._commit_sqlite, requests, relayed
            )
        engine = self._postgres or self._engine
        for attempt in (1, 2):
            async with engine.connect() as conn:
                try:
                    async with conn.begin():
                        return await conn.run_sync(_write, requests, relayed)
                except Exception:
                    if attempt == 2:
                        raise
                    # Without pre-ping, a pooled connection may have died (a database restart)
                    # and the driver does not always say so plainly: once more, on a new one.
                    await conn.invalidate()
        raise AssertionError("unreachable")

    def _commit_sqlite(self, requests: list[IngestRequest], relayed: list[str]) -> IngestOutcome:
        assert self._sqlite is not None  # noqa: S101 - only called when set
        with self._sqlite.begin() as conn:
            return _write(conn, requests, relayed)


def _write(conn: sa.Connection, requests: list[IngestRequest], relayed: list[str]) -> IngestOutcome:
    now = datetime.now(UTC)
    if relayed:
        record_enqueued(conn, relayed, now)
    if not requests:
        return IngestOutcome([], ())
    return ingest_batch(conn, requests, now=now)


def _fail(future: asyncio.Future[IngestResult], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


INGEST: Final = web.AppKey("ingest", IngestWriter)
