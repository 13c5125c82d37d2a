"""One gate for the drivers area's write transactions, so SQLite's single writer is queued for
in this process instead of in SQLite's busy handler.

SQLite takes one write transaction at a time. Concurrent requests of one process that all
`BEGIN IMMEDIATE` wait in SQLite's busy handler, which sleeps in growing steps (up to 100 ms):
the CPU idles while requests queue. An asyncio lock hands the writer over at once, in arrival
order. PostgreSQL needs no gate: a driver's requests serialize on the driver's row lock, and
different drivers write in parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class WriteGate:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """`engine.begin()`, one at a time on SQLite."""
        if self._lock is None:
            async with self._engine.begin() as conn:
                yield conn
            return
        async with self._lock, self._engine.begin() as conn:
            yield conn


WRITES: Final = web.AppKey("driver_writes", WriteGate)
