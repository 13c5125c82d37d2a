"""Batched enqueue keeps arq's semantics: a real worker runs the jobs, ids are never doubled."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from gateway.platform.enqueue import enqueue_many

ran: list[tuple[str, ...]] = []


async def record(_ctx: Any, *args: str) -> None:
    ran.append(args)


async def test_jobs_run_once_per_id(redis: Redis, arq_redis: ArqRedis) -> None:
    ran.clear()
    jobs = [("job-a", "record", ["a", "1"]), ("job-b", "record", ["b"])]
    assert await enqueue_many(arq_redis, jobs) == 2
    assert await enqueue_many(arq_redis, jobs) == 0  # same ids: nothing new
    # arq's own enqueue agrees that the id is taken.
    assert await arq_redis.enqueue_job("record", "x", _job_id="job-a") is None

    worker = Worker(
        [record], redis_pool=arq_redis, burst=True, handle_signals=False, poll_delay=0.01
    )
    assert await worker.run_check() == 2
    assert sorted(ran) == [("a", "1"), ("b",)]
    # Finished jobs keep their result key: re-enqueueing the same id is still refused.
    assert await enqueue_many(arq_redis, jobs) == 0
