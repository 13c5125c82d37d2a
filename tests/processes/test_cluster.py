"""Stateless processes: two `lastmile serve` and two `lastmile worker` share one database and Redis.

Carrier events go to both gateways (each one twice, the copies to different gateways at the
same time): every POST is accepted, each event is stored once, every shipment reads the same
through either gateway, and the workers run each resulting job exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Redis

from gateway.platform.db import create_engine
from gateway.shipments.jobs import ChangeOutcome
from gateway.shipments.tables import events, raw_payloads, shipment_changes
from tests.processes.procs import Child, Children, clean_env
from tests.support import SECRET_KEY, load_fixture

PARCELS = 40
FIXTURE_TRACKING = "771203948265"
JOBS_TIMEOUT_S = 60.0  # generous: the machine may be busy
STARTUP_TIMEOUT_S = 60.0  # several processes importing the app on a busy machine
# arq logs each finished job at INFO as "  0.01s ← <job id>:<function> ● <result>".
_JOB_DONE = re.compile(r"← (shipment_changed:\S+):shipment_changed ● (.*)$")


def _tracking(i: int) -> str:
    return f"7719{i:08d}"


def _signed_request(fixture: dict[str, Any], tracking: str) -> tuple[bytes, dict[str, str]]:
    """The fixture's FedEx push for another tracking number, signed like FedEx signs it."""
    body = fixture["request"]["body"].replace(FIXTURE_TRACKING, tracking).encode()
    secret = fixture["auth"]["secret"].encode()
    signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    headers = dict(fixture["request"]["headers"])
    headers[fixture["auth"]["header"]] = signature
    return body, headers


def _create_tenant(exe: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    result = subprocess.run(
        [exe, "tenants", "create", "Cluster Store"],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().strip().splitlines()
    assert len(lines) == 1, result.stdout
    created: dict[str, str] = json.loads(lines[0])
    assert set(created) == {"tenant_id", "api_key"}
    return created


async def _db_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            async def count(table: sa.Table, *where: Any) -> int:
                query = sa.select(sa.func.count()).select_from(table).where(*where)
                return int((await conn.execute(query)).scalar_one())

            return {
                "changes": await count(shipment_changes),
                "processed": await count(
                    shipment_changes, shipment_changes.c.processed_at.is_not(None)
                ),
                "events": await count(events),
                "raw_payloads": await count(raw_payloads),
            }
    finally:
        await engine.dispose()


def _jobs_done(child: Child) -> list[tuple[str, str]]:
    """(job id, result) of every shipment_changed job this worker finished, from its log."""
    done = []
    for line in child.stderr().splitlines():
        try:
            message = str(json.loads(line).get("event", ""))
        except ValueError:
            continue
        match = _JOB_DONE.search(message)
        if match:
            done.append((match[1], match[2]))
    return done


async def _wait_worker_started(child: Child, procs: Children) -> None:
    """arq logs "Starting worker" once it is connected to Redis (signal handlers are set)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while "Starting worker for" not in child.stderr():
        assert child.alive(), f"{child.name} died during startup\n{procs.report()}"
        assert time.monotonic() < deadline, f"{child.name} did not start\n{procs.report()}"
        await asyncio.sleep(0.1)


async def _shipment_results(arq_redis: ArqRedis) -> list[Any]:
    return [r for r in await arq_redis.all_job_results() if r.function == "shipment_changed"]


async def test_two_gateways_and_two_workers_share_the_work(
    database_url: str,
    redis_url: str,
    redis: Redis,  # flushes the database before the test
    arq_redis: ArqRedis,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    env = clean_env(
        LASTMILE_DATABASE_URL=database_url,
        LASTMILE_REDIS_URL=redis_url,
        LASTMILE_LOG_LEVEL="WARNING",
        LASTMILE_SECRET_KEY=SECRET_KEY,
    )
    procs = Children(tmp_path)
    try:
        tenant = _create_tenant(procs.exe, env, tmp_path)
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        # Workers log at INFO: the start line says they are up, the job lines who ran what.
        worker_env = {**env, "LASTMILE_LOG_LEVEL": "INFO"}
        workers = [procs.spawn(f"worker{n}", ["worker"], worker_env) for n in (1, 2)]
        serving = [
            procs.spawn_http(f"serve{n}", ["serve", "--host", "127.0.0.1"], env) for n in (1, 2)
        ]
        gateways: list[Child] = []
        for started_http in await asyncio.gather(*serving, return_exceptions=True):
            if isinstance(started_http, BaseException):
                raise started_http
            gateways.append(started_http[0])
        for worker in workers:
            await _wait_worker_started(worker, procs)
        up_s = time.monotonic() - started

        def all_alive() -> None:
            dead = [c for c in procs.children if not c.alive()]
            assert not dead, "a process died:\n" + procs.report()

        fixture = load_fixture("fedex", "out_for_delivery")
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(
                gateways[0].url + "/v1/carrier-connections",
                json={"carrier": "fedex", "auth": fixture["auth"]},
                headers=auth,
            ) as response:
                assert response.status == 201, await response.text()
                hook_path = urlsplit((await response.json())["webhook_url"]).path

            # Both copies of one push are in flight at once, one at each gateway.
            limit = asyncio.Semaphore(16)

            async def post(gateway: int, body: bytes, headers: dict[str, str]) -> int:
                async with (
                    limit,
                    http.post(gateways[gateway].url + hook_path, data=body, headers=headers) as r,
                ):
                    text = await r.text()
                    assert r.status == 202, f"{r.status} {text}\n{gateways[gateway].describe()}"
                    assert json.loads(text) == {"accepted": 1}
                    return r.status

            posts = []
            for i in range(PARCELS):
                body, headers = _signed_request(fixture, _tracking(i))
                posts.append(post(i % 2, body, headers))
                posts.append(post((i + 1) % 2, body, headers))
            statuses = await asyncio.gather(*posts, return_exceptions=True)
            for outcome in statuses:
                if isinstance(outcome, BaseException):
                    raise outcome
            assert statuses == [202] * (2 * PARCELS)
            posted_s = time.monotonic() - started
            all_alive()

            for i in range(PARCELS):
                for gateway in gateways:
                    async with http.get(
                        gateway.url + "/v1/shipments",
                        params={"tracking_number": _tracking(i)},
                        headers=auth,
                    ) as response:
                        assert response.status == 200, await response.text()
                        shipment = await response.json()
                    assert shipment["status"] == "out_for_delivery", shipment
                    assert [e["tracking_number"] for e in shipment["events"]] == [_tracking(i)]
                    assert shipment["events"][0]["carrier_status_code"] == "OD"

        # The workers (not the gateways: they only relay) mark every change processed.
        waiting = time.monotonic()
        deadline = time.monotonic() + JOBS_TIMEOUT_S
        while True:
            all_alive()
            counts = await _db_counts(database_url)
            results = await _shipment_results(arq_redis)
            if counts["processed"] >= PARCELS and len(results) >= PARCELS:
                break
            assert time.monotonic() < deadline, (
                f"jobs not done within {JOBS_TIMEOUT_S:.0f}s: {counts}, "
                f"{len(results)} arq results\n{procs.report()}"
            )
            await asyncio.sleep(0.2)
        jobs_s = time.monotonic() - waiting

        assert counts == {
            "changes": PARCELS,
            "processed": PARCELS,
            "events": PARCELS,
            "raw_payloads": 2 * PARCELS,  # every accepted POST keeps its raw body
        }
        # One job per change, each run once: none found its change "already handled".
        assert len(results) == PARCELS
        assert all(r.success for r in results), [r.result for r in results if not r.success]
        assert all(r.result is ChangeOutcome.HANDLED for r in results), [r.result for r in results]
        # arq logs a finished job before it stores the result, so every run is in a log by now:
        # each job ran exactly once, in one of the two workers.
        logged = sorted(job for worker in workers for job, _ in _jobs_done(worker))
        assert logged == sorted(r.job_id for r in results), procs.report()
        split = [len(_jobs_done(worker)) for worker in workers]
        all_alive()

        # Each process stops cleanly on SIGTERM.
        for child in (*gateways, *workers):
            child.popen.terminate()
        for child in (*gateways, *workers):
            code = await child.wait_exit(15)
            assert code == 0, f"{child.name} exit code {code}\n{child.describe()}"
        for child in procs.children:
            assert "Traceback" not in child.stderr(), child.describe()
            assert '"level": "error"' not in child.stderr(), child.describe()
    finally:
        procs.close()
    print(
        f"cluster test on {database_url.split(':')[0]}: {time.monotonic() - started:.1f}s "
        f"(all up {up_s:.1f}s, posted {posted_s:.1f}s, then jobs done in {jobs_s:.1f}s), "
        f"jobs per worker {split}"
    )
