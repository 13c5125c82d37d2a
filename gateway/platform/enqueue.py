"""Hand many jobs to arq in one Redis round trip, with arq's own job format and id semantics.

`ArqRedis.enqueue_job` costs two round trips per job (WATCH, then MULTI); at ingest rates the
relay spent more time there than on the database. `enqueue_many` does what enqueue_job does, for
a whole batch, atomically: skip a job whose id is queued or has a result, else store and queue it.
`restore_missing` is the reconciler's variant: the database says the work is still owed, so only
a job that exists (queued, deferred or running) stops it; an old result does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from arq.connections import ArqRedis
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

# KEYS: queue, then job key and result key per job. ARGV: expiry ms, score, then id and data.
_ENQUEUE_LUA: Final = """
local added = 0
for i = 2, #KEYS, 2 do
  if redis.call('exists', KEYS[i], KEYS[i + 1]) == 0 then
    local n = i / 2
    redis.call('psetex', KEYS[i], ARGV[1], ARGV[2 + 2 * n])
    redis.call('zadd', KEYS[1], ARGV[2], ARGV[1 + 2 * n])
    added = added + 1
  end
end
return added
"""


# KEYS: queue, then the job key per job. ARGV: expiry ms, score, then id and data per job.
# Returns the ids it queued.
_RESTORE_LUA: Final = """
local restored = {}
for i = 2, #KEYS do
  if redis.call('exists', KEYS[i]) == 0 then
    local n = i - 1
    redis.call('psetex', KEYS[i], ARGV[1], ARGV[2 + 2 * n])
    redis.call('zadd', KEYS[1], ARGV[2], ARGV[1 + 2 * n])
    table.insert(restored, ARGV[1 + 2 * n])
  end
end
return restored
"""

Jobs = Sequence[tuple[str, str, Sequence[Any]]]  # (job_id, function, args)


async def enqueue_many(redis: ArqRedis, jobs: Jobs) -> int:
    """Enqueue (job_id, function, args) now; returns how many were new to arq."""
    if not jobs:
        return 0
    now_ms = timestamp_ms()
    keys: list[str] = [default_queue_name]
    argv: list[Any] = [expires_extra_ms, now_ms]
    for job_id, function, args in jobs:
        keys += [job_key_prefix + job_id, result_key_prefix + job_id]
        argv += [job_id, serialize_job(function, tuple(args), {}, None, now_ms)]
    script = redis.register_script(_ENQUEUE_LUA)
    return int(await script(keys=keys, args=argv))


async def restore_missing(redis: ArqRedis, jobs: Jobs) -> list[str]:
    """Queue, to run now, each job whose id arq does not hold; returns the ids queued."""
    if not jobs:
        return []
    now_ms = timestamp_ms()
    keys: list[str] = [default_queue_name]
    argv: list[Any] = [expires_extra_ms, now_ms]
    for job_id, function, args in jobs:
        keys.append(job_key_prefix + job_id)
        argv += [job_id, serialize_job(function, tuple(args), {}, None, now_ms)]
    script = redis.register_script(_RESTORE_LUA)
    restored = await script(keys=keys, args=argv)
    return [r.decode() if isinstance(r, bytes) else str(r) for r in restored]
