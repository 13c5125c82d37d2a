"""What a worker holds for store webhooks: one HTTP session and the maintenance loop.

Called from gateway/worker.py startup/shutdown. arq runs startup on every `run()` of a
worker (tests run a burst worker several times), so starting twice keeps the first session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import aiohttp

from gateway.store_webhooks.maintenance import webhook_maintenance
from gateway.store_webhooks.sender import create_session

log = logging.getLogger(__name__)

HTTP_KEY: Final = "webhook_http"
MAINTENANCE_KEY: Final = "webhook_maintenance_task"
STOPPING_KEY: Final = "webhook_maintenance_stopping"
MAINTENANCE_EVERY_S: Final = 60.0
STOP_WAIT_S: Final = 10.0


async def start_webhooks(ctx: dict[str, Any]) -> None:
    if HTTP_KEY not in ctx:
        ctx[HTTP_KEY] = create_session(allow_private=ctx["settings"].dev)
    if MAINTENANCE_KEY not in ctx:
        # A plain task, not an arq cron: every worker runs it (each run is idempotent) and it
        # never shows up as a job in a burst worker's count.
        stopping = ctx[STOPPING_KEY] = asyncio.Event()
        ctx[MAINTENANCE_KEY] = asyncio.create_task(
            _maintain(ctx, stopping), name="webhook-maintenance"
        )


async def stop_webhooks(ctx: dict[str, Any]) -> None:
    task: asyncio.Task[None] | None = ctx.pop(MAINTENANCE_KEY, None)
    stopping: asyncio.Event | None = ctx.pop(STOPPING_KEY, None)
    if task is not None and stopping is not None:
        # Let a round under way finish: cancelling a database call mid-way can strand its
        # connection (aiosqlite never answers a second close).
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_WAIT_S)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    session: aiohttp.ClientSession | None = ctx.pop(HTTP_KEY, None)
    if session is not None:
        await session.close()


async def _maintain(ctx: dict[str, Any], stopping: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), MAINTENANCE_EVERY_S)
        if stopping.is_set():
            return
        try:
            await webhook_maintenance(ctx)  # type: ignore[arg-type]
        except Exception as exc:  # database or Redis away: try again next round
            log.warning("webhook maintenance failed: %s", type(exc).__name__)
