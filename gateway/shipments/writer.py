"""Group commit for carrier ingest: requests that arrive together share one transaction.

SQLite takes one writer at a time, so a transaction per request caps throughput at the commit
rate. The writer drains whatever is queued into one transaction; each request still gets its
202 only after that commit. If the batch fails, each request is retried alone so one bad
request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.db import create_sync_sqlite_engine
from gateway.platform.metrics import INGEST_BATCH_SIZE
from gateway.platform.outages import DatabaseUnavailable, database_unreachable
from gateway.shipments.store_ingest import IngestRequest, IngestResult, ingest_batch

log = logging.getLogger(__name__)

_Item = tuple[IngestRequest, "asyncio.Future[IngestResult]"]


class IngestWriter:
    def __init__(self, engine: AsyncEngine, *, writers: int = 1, max_batch: int = 64) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._max_batch = max_batch
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []
        # SQLite: the whole batch runs in one dedicated thread on a blocking engine, one hop
        # instead of one per statement through aiosqlite's thread.
        self._sqlite: sa.Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.dialect.name == "sqlite":
            self._sqlite = create_sync_sqlite_engine(
                engine.url.render_as_string(hide_password=False)
            )
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-sqlite")

    def _commit_sqlite(self, requests: list[IngestRequest]) -> list[IngestResult]:
        assert self._sqlite is not None  # noqa: S101 - only called when set
        with self._sqlite.begin() as conn:
            return ingest_batch(conn, requests)

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

    async def submit(self, request: IngestRequest) -> IngestResult:
        """Returns once the request's events are committed; raises if they could not be
        (DatabaseUnavailable when the database is away: nothing was stored)."""
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[_Item]) -> None:
        INGEST_BATCH_SIZE.observe(len(batch))
        requests = [request for request, _ in batch]
        try:
            if self._sqlite is not None:
                results = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self._commit_sqlite, requests
                )
            else:
                async with self._engine.begin() as conn:
                    results = await conn.run_sync(ingest_batch, requests)
        except Exception as exc:
            if database_unreachable(exc):  # one by one would fail the same way
                log.warning("ingest: database unreachable (%s)", type(exc).__name__)
                for _, future in batch:
                    _fail(future, DatabaseUnavailable())
                return
            if len(batch) == 1:
                log.exception("ingest transaction failed")
                _fail(batch[0][1], RuntimeError("ingest transaction failed"))
                return
            log.warning("ingest batch of %d failed; retrying one by one", len(batch))
            for item in batch:
                await self._commit([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(future: asyncio.Future[IngestResult], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


INGEST: Final = web.AppKey("ingest", IngestWriter)
