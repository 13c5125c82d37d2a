"""The fault suite: real processes through a worker kill, Redis and PostgreSQL restarts, failing
providers and a gateway restart. After each: every accepted event stored once, every due
notification sent exactly once (or, when the provider may have it, `outcome_unknown` and never
sent again), every store webhook message received at least once under one `webhook-id`.

Each test prints its line of the table (run with -s to see them):
| fault | webhooks accepted | events stored | SMS sent | duplicates | notifications |
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.notifications.tables import notifications
from tests.fakes.fake_twilio import FakeTwilio
from tests.faults.harness import (
    Cluster,
    Hooks,
    RestartableRedis,
    open_store,
    phone_for,
    register,
)
from tests.faults.ledger import Ledger, owed, settled
from tests.services import PostgresServer

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

Fakes = tuple[FakeTwilio, str, Hooks, str]


def _parcels(test: int, count: int, start: int = 0) -> list[str]:
    return [f"77{test}9{i:08d}" for i in range(start, start + count)]


async def _in_flight(twilio: FakeTwilio, hooks: Hooks, sms: int, webhooks: int) -> None:
    """Until the fakes hold this many requests (the stalled ones)."""
    deadline = time.monotonic() + 30
    while len(twilio.requests) < sms or len(hooks.received) < webhooks:
        assert time.monotonic() < deadline, (len(twilio.requests), len(hooks.received))
        await asyncio.sleep(0.05)


async def _sent(engine: AsyncEngine, count: int) -> None:
    deadline = time.monotonic() + 30
    query = sa.select(sa.func.count()).select_from(notifications)
    while True:
        async with engine.connect() as conn:
            sent = (await conn.execute(query.where(notifications.c.status == "sent"))).scalar_one()
        if sent >= count:
            return
        assert time.monotonic() < deadline, f"{sent} of {count} sent"
        await asyncio.sleep(0.05)


async def test_worker_killed_mid_send(
    cluster: Cluster, fault_engine: AsyncEngine, fakes: Fakes, http: aiohttp.ClientSession
) -> None:
    """SIGKILL while three SMS and two store webhooks are in flight; a new worker takes over.

    The three SMS reached Twilio before the kill: their re-runs (within 60 s, once arq's
    in-progress marker expires) record `outcome_unknown` and do not text anyone again.
    """
    twilio, _, hooks, hooks_url = fakes
    twilio.stall_s, hooks.stall_first, hooks.stall_s = 12.0, 2, 60.0
    await cluster.serve()
    worker = await cluster.worker("worker1")
    store = await open_store(http, cluster, fault_engine, hooks_url, collapse_window_s=0)
    first, later = _parcels(1, 8), _parcels(1, 4, start=8)
    stalled = set(first[:3])
    phones = {t: phone_for(t, "0408" if t in stalled else None) for t in first + later}
    await register(http, cluster, store, phones)

    await store.carrier.push_all(http, first)
    await _in_flight(twilio, hooks, sms=len(first), webhooks=2)
    await _sent(fault_engine, len(first) - len(stalled))  # only the stalled three are mid-call
    worker.popen.kill()
    killed = time.monotonic()
    await store.carrier.push_all(http, later)  # accepted while no worker runs
    await cluster.worker("worker2")

    within_s = await settled(fault_engine, 75, alive=cluster.alive)
    ledger = await Ledger.take(
        "worker SIGKILLed mid-send", fault_engine, store.carrier, 12, twilio, hooks
    )
    print(f"\n{ledger.row()}  (settled {time.monotonic() - killed:.0f}s after the kill)")
    ledger.check(unknown=3)
    assert ledger.unknown_at_provider == 3  # Twilio has them: sent once, never twice
    assert time.monotonic() - killed - within_s < 60 + 5, "in-flight work re-ran too late"


async def _queued(engine: AsyncEngine, count: int) -> None:
    """Until `count` notifications exist (planned, their send jobs waiting in Redis)."""
    deadline = time.monotonic() + 30
    while (await owed(engine))["notifications"] < count:
        assert time.monotonic() < deadline, await owed(engine)
        await asyncio.sleep(0.1)


async def test_redis_killed_and_restarted_empty_under_carrier_load(
    cluster: Cluster,
    fault_engine: AsyncEngine,
    fault_redis: RestartableRedis,
    fakes: Fakes,
    http: aiohttp.ClientSession,
) -> None:
    """Ten SMS wait out a collapse window in Redis when it dies (each parcel's first news went
    out at once; its delivery, just after, waits for the window to close); ten parcels arrive
    while it is down, ten after it is back (empty). The processes stay up; nothing is lost."""
    twilio, _, hooks, hooks_url = fakes
    serve = await cluster.serve()
    await cluster.worker()
    news = ("out_for_delivery", "delivered")
    store = await open_store(http, cluster, fault_engine, hooks_url, news, collapse_window_s=8)
    before, during, after = _parcels(2, 10), _parcels(2, 10, 10), _parcels(2, 10, 20)
    await register(http, cluster, store, {t: phone_for(t) for t in before + during + after})

    await store.carrier.push_all(http, before)
    await _sent(fault_engine, len(before))  # the leading edge: at once
    await store.carrier.push_all(http, before, case="delivered_with_recipient")
    await _queued(fault_engine, len(before))
    fault_redis.kill()
    for tracking in during:  # ingest does not need Redis; each accepted push wakes the relay
        await store.carrier.push(http, tracking)
        await asyncio.sleep(0.15)
    async with http.get(cluster.url + "/readyz") as ready:
        assert ready.status == 503 and (await ready.json())["checks"]["redis"] == "unreachable"
    await asyncio.sleep(1)
    cluster.alive()  # nobody exited
    fault_redis.start()  # empty: the deferred jobs are gone
    restarted = time.monotonic()
    await store.carrier.push_all(http, after)

    await settled(fault_engine, 60, alive=cluster.alive)
    ledger = await Ledger.take(
        "Redis killed, restarted empty", fault_engine, store.carrier, 40, twilio, hooks
    )
    print(f"\n{ledger.row()}  (settled {time.monotonic() - restarted:.0f}s after the restart)")
    ledger.check()
    retries = serve.stderr().count("outbox relay failed")
    assert retries < len(during), f"the relay retried {retries} times: once per webhook?"


async def test_postgres_restarted(
    cluster: Cluster,
    fault_engine: AsyncEngine,
    fault_postgres: PostgresServer,
    fakes: Fakes,
    http: aiohttp.ClientSession,
) -> None:
    """PostgreSQL restarts while carriers push and SMS are mid-call: ingest answers 503 with
    Retry-After (carriers come back), never 500, and every process recovers by itself."""
    twilio, _, hooks, hooks_url = fakes
    twilio.latency_s = 0.3  # sends are under way when the database goes
    await cluster.serve()
    await cluster.worker()
    store = await open_store(http, cluster, fault_engine, hooks_url, collapse_window_s=0)
    parcels = _parcels(3, 20)
    await register(http, cluster, store, {t: phone_for(t) for t in parcels})

    pushing = asyncio.create_task(store.carrier.push_all(http, parcels))
    await store.carrier.accepted(5)
    await asyncio.to_thread(fault_postgres.stop)
    await asyncio.sleep(2)  # carriers meet a gateway without its database
    fault_postgres.start_again()  # blocks this loop ~1 s; started from this (main) thread
    await pushing

    await settled(fault_engine, 60, alive=cluster.alive)
    ledger = await Ledger.take(
        "PostgreSQL restarted", fault_engine, store.carrier, 20, twilio, hooks
    )
    print(f"\n{ledger.row()}  answers {ledger.answers}")
    ledger.check()


async def test_providers_time_out_or_answer_5xx(
    cluster: Cluster, fault_engine: AsyncEngine, fakes: Fakes, http: aiohttp.ClientSession
) -> None:
    """Twilio answers 500 to the first three sends (retried: sent once each) and never answers
    two (the documented doubt: `outcome_unknown`, not sent again); the store's endpoint answers
    503 three times (re-delivered under the same webhook-id)."""
    twilio, _, hooks, hooks_url = fakes
    twilio.stall_s, hooks.fail_first = 12.0, 3
    twilio.fail_next(3)
    await cluster.serve()
    await cluster.worker()
    store = await open_store(http, cluster, fault_engine, hooks_url, collapse_window_s=0)
    parcels = _parcels(4, 10)
    silent = set(parcels[-2:])
    phones = {t: phone_for(t, "0408" if t in silent else None) for t in parcels}
    await register(http, cluster, store, phones)

    await store.carrier.push_all(http, parcels)

    await settled(fault_engine, 60, alive=cluster.alive)
    ledger = await Ledger.take(
        "Twilio 5xx and timeouts, store 503", fault_engine, store.carrier, 10, twilio, hooks
    )
    print(f"\n{ledger.row()}")
    ledger.check(unknown=2)
    assert ledger.unknown_at_provider == 2
    assert twilio.attempts == len(twilio.requests) + 3  # the three 500s were tried again
    assert ledger.webhook_redeliveries >= 3


async def test_serve_restarted_while_carriers_retry(
    cluster: Cluster, fault_engine: AsyncEngine, fakes: Fakes, http: aiohttp.ClientSession
) -> None:
    """The gateway is SIGKILLed mid-stream and started again on its port; carriers retry what
    got no answer (some of it was committed: stored once all the same)."""
    twilio, _, hooks, hooks_url = fakes
    serve = await cluster.serve()
    await cluster.worker()
    store = await open_store(http, cluster, fault_engine, hooks_url, collapse_window_s=0)
    parcels = _parcels(5, 30)
    await register(http, cluster, store, {t: phone_for(t) for t in parcels})

    pushing = asyncio.create_task(store.carrier.push_all(http, parcels))
    await store.carrier.accepted(8)
    serve.popen.kill()
    await asyncio.sleep(1)
    await cluster.serve("serve2")
    await pushing

    await settled(fault_engine, 60, alive=cluster.alive)
    ledger = await Ledger.take(
        "serve SIGKILLed and restarted", fault_engine, store.carrier, 30, twilio, hooks
    )
    print(f"\n{ledger.row()}  ({store.carrier.refused} pushes refused while it was down)")
    ledger.check()
    assert store.carrier.refused > 0  # carriers really met a dead gateway
