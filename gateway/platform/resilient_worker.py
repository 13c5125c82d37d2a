"""arq's Worker, made to ride out outages: Redis or the database away never ends the process.

arq's own loop raises on the first Redis error (and so does its `close()`), which ends
`lastmile worker`. Here the loop reconnects with back-off and carries on; a job that meets an
outage comes back later through arq's `Retry` instead of being recorded as failed (and if its
retries run out, the reconciler queues it again from the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Final

from arq.worker import Function, Retry, Worker

from gateway.platform.outages import Backoff, redis_unreachable, unreachable

log = logging.getLogger(__name__)

RECONNECT_FIRST_S: Final = 0.5
RECONNECT_MAX_S: Final = 15.0
JOB_RETRY_MAX_S: Final = 30.0  # a job that met an outage comes back after at most this


class ResilientWorker(Worker):
    """A Worker whose main loop survives Redis restarts; `close()` never raises for an outage."""

    async def main(self) -> None:
        backoff = Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        while True:
            try:
                await super().main()  # runs until stopped (or, in burst mode, drained)
                return
            except Exception as exc:
                if not redis_unreachable(exc):
                    raise
                self._forget_finished_jobs()
                if await self._redis_answers():  # a job's late report of an outage now over
                    backoff.reset()
                    continue
                delay = backoff.next_delay_s()
                log.warning(
                    "worker lost Redis (%s: %s); reconnecting in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    def _forget_finished_jobs(self) -> None:
        """Drop finished job tasks: arq re-raises each one's error in its loop, one per round,
        so errors from the outage would end every round after Redis is back."""
        for job_id, task in list(self.tasks.items()):
            if not task.done():
                continue
            del self.tasks[job_id]
            error = None if task.cancelled() else task.exception()
            if error is not None and not redis_unreachable(error):
                log.error("job %s ended with %s", job_id, type(error).__name__, exc_info=error)

    async def _redis_answers(self) -> bool:
        if self._pool is None:
            return False
        try:
            async with asyncio.timeout(2):
                await self._pool.ping()
        except Exception:
            return False
        return True

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq takes a job slot before asking Redis about a job; give it back if Redis fails.

        Each poll reads the queue's head, which still holds the jobs running here (arq removes
        a job when it finishes), and arq asks Redis about each with a WATCH round trip or
        three. Under load that was most of the worker's Redis traffic: a job running in this
        process is skipped without asking."""
        for job_id in job_ids:
            running = self.tasks.get(job_id.decode())
            if running is not None and not running.done():
                continue
            counted = self.job_counter
            try:
                await super().start_jobs([job_id])
            except BaseException:
                if self.job_counter > counted and job_id.decode() not in self.tasks:
                    self.job_counter -= 1
                    self.sem.release()
                raise
            if not self.allow_pick_jobs or self.job_counter >= self.max_jobs:
                return

    async def close(self) -> None:
        """arq's close(), except that Redis being away skips only what needs Redis."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(Exception):
            await self.pool.aclose(close_connection_pool=True)
        self._pool = None


JobCoroutine = Callable[..., Awaitable[Any]]


def retry_on_outage(function: Function) -> Function:
    """The same job, raising arq's Retry (with back-off) when the database or Redis is away."""
    job: JobCoroutine = function.coroutine

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await job(ctx, *args, **kwargs)
        except Exception as exc:
            if isinstance(exc, Retry) or not unreachable(exc):
                raise
            delay_s = min(2.0 ** ctx.get("job_try", 1), JOB_RETRY_MAX_S)
            log.warning(
                "%s: database or Redis away (%s); again in %.0fs",
                function.name,
                type(exc).__name__,
                delay_s,
            )
            raise Retry(defer=delay_s) from exc

    return dataclasses.replace(function, coroutine=run)
