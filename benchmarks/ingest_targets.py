"""The ingest benchmark's targets: the bare handler and the gateway's process layouts.

A gateway target is a database, a number of `lastmile serve` processes and whether a
`lastmile worker` (console channel) runs beside them. Each target gets a fresh store (tenant) and
connections; SQLite targets also get a fresh file. After its runs, the processes are stopped
gracefully (queued ingest commits finish) and the store's rows are counted against the 2xx
answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import sqlalchemy as sa
from benchlib import (
    BENCH_DIR,
    HOST,
    HTTP_TIMEOUT_S,
    BenchError,
    Children,
    ProfileSummary,
    cpu_seconds,
    http_json,
    lastmile_executable,
    post_raw,
    require_loopback,
    run_lastmile,
    start_py_spy,
    summarize_profile,
    wait_healthy,
)
from load import Loader, LoadResult
from webhook_requests import AUTH_CONFIG, Webhook, auth_header, write_request_file

from gateway.platform.db import create_engine
from gateway.platform.embedded_redis import find_free_port
from gateway.shipments.tables import events, raw_payloads, shipments

BARE_SERVER: Final = BENCH_DIR / "bare_server.py"
CALIBRATION_S: Final = 2  # the throttled run's probe, to learn the answer time at that rate


@dataclass(frozen=True, slots=True)
class Target:
    database: str  # "sqlite" or "postgresql"
    serves: int
    worker: bool
    half_rate: bool = False

    @property
    def label(self) -> str:
        serves = "serve" if self.serves == 1 else f"{self.serves} serves"
        return f"{self.database} {serves}" + (" + worker" if self.worker else "")


@dataclass(slots=True)
class Outcome:
    name: str
    result: LoadResult
    events_per_request: float
    target: Target | None = None
    throttled: bool = False
    worker_cpu_pct: float | None = None
    db_cpu_pct: float | None = None  # PostgreSQL's processes (SQLite runs inside the serve)
    check: str = ""
    check_ok: bool | None = None
    profile: ProfileSummary = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Run:
    args: argparse.Namespace
    loader: Loader
    webhooks: list[Webhook]
    children: Children
    workdir: Path
    redis_url: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def events_per_request(self) -> float:
        return sum(w.events for w in self.webhooks) / len(self.webhooks)

    def bare_rps(self) -> float:
        bare = next((o for o in self.outcomes if o.target is None), None)
        return bare.result.rps if bare else 0.0

    def find(self, database: str, *, serves: int) -> Outcome | None:
        return next(
            (
                o
                for o in self.outcomes
                if o.target
                and o.target.database == database
                and o.target.serves == serves
                and not o.target.worker
                and not o.throttled
            ),
            None,
        )


@dataclass(slots=True)
class Session:
    """The load sent to one target so far: where each generator goes on, what was answered."""

    run: Run
    base_urls: list[str]
    pids: list[int]
    request_file: Path
    offsets: list[int]
    answered: int = 0
    runs: int = 0

    def smoke(self, paths: dict[str, str]) -> None:
        """Send the first request of each carrier once; each must be accepted (202)."""
        for webhook in self.run.webhooks[:2]:
            name, value = auth_header(webhook)
            url = self.base_urls[0] + paths[webhook.carrier]
            status = post_raw(url, webhook.body, {"Content-Type": "application/json", name: value})
            if status != 202:
                raise BenchError(f"smoke request to {url} answered {status}, not 202")
        self.offsets = [o + 2 for o in self.offsets]
        self.answered += 2

    def load_at(self, rate: float, duration_s: int) -> LoadResult:
        """About `rate` requests/s: each connection sends, waits for the answer, then pauses.
        A short first run measures the answer time, so the pause leaves room for it."""
        cycle_ms = 1000 * self.run.loader.connections / rate  # per connection, answer + pause
        probe = self.load(CALIBRATION_S, delay_ms=cycle_ms)
        answer_ms = 1000 * self.run.loader.connections / max(probe.rps, 1e-9) - cycle_ms
        return self.load(duration_s, delay_ms=max(cycle_ms - max(answer_ms, 0.0), 0.0))

    def load(self, duration_s: int, delay_ms: float = 0.0) -> LoadResult:
        total, each = self.run.loader.run(
            self.base_urls,
            self.request_file,
            duration_s=duration_s,
            offsets=self.offsets,
            server_pids=self.pids,
            delay_ms=delay_ms,
        )
        # Skip what may still have been in flight when the generator stopped counting, so
        # that the next run sends no repeats before the cycle wraps.
        per = max(1, self.run.loader.connections // len(self.base_urls))
        self.offsets = [o + r.requests + per for o, r in zip(self.offsets, each, strict=True)]
        self.answered += total.ok
        self.runs += 1
        return total


def _start_offsets(run: Run, generators: int) -> list[int]:
    stride = len(run.webhooks) // generators  # apart: no two generators send the same body
    return [i * stride for i in range(generators)]


def run_bare(run: Run) -> None:
    port = find_free_port(HOST)
    proc = run.children.start(
        "bare",
        [sys.executable, str(BARE_SERVER), "--host", HOST, "--port", str(port)],
        dict(os.environ),
    )
    base_url = f"http://{HOST}:{port}"
    wait_healthy(run.children, "bare", proc, base_url + "/healthz")
    paths = {"fedex": "/hooks/fedex/bare", "ups": "/hooks/ups/bare"}
    request_file = run.workdir / "requests-bare.tsv"
    write_request_file(request_file, run.webhooks, paths)
    print(f"- bare aiohttp handler on {base_url}", flush=True)
    session = Session(run, [base_url], [proc.pid], request_file, [0])
    session.smoke(paths)
    if run.args.warmup:
        session.load(run.args.warmup)
    result = session.load(run.args.duration)
    run.outcomes.append(Outcome("bare aiohttp", result, run.events_per_request))
    run.children.stop(proc)


def run_gateway(run: Run, target: Target, database_url: str) -> None:
    env = dict(os.environ)
    env.update(
        LASTMILE_DATABASE_URL=database_url,
        LASTMILE_REDIS_URL=run.redis_url,
        LASTMILE_LOG_LEVEL="WARNING",
        LASTMILE_CHANNELS="console",
        LASTMILE_DEV="1",
    )
    run_lastmile(["migrate"], env)
    tenant = json.loads(run_lastmile(["tenants", "create", "bench"], env).strip().splitlines()[-1])
    ports = [find_free_port(HOST) for _ in range(target.serves)]
    base_urls = [f"http://{HOST}:{port}" for port in ports]
    env["LASTMILE_PUBLIC_URL"] = base_urls[0]
    name = target.label.replace(" ", "-")
    procs = [
        run.children.start(
            f"{name}-{i}",
            [lastmile_executable(), "serve", "--host", HOST, "--port", str(port)],
            env,
        )
        for i, port in enumerate(ports)
    ]
    worker = None
    if target.worker:
        worker = run.children.start(f"{name}-worker", [lastmile_executable(), "worker"], env)
    for i, (proc, url) in enumerate(zip(procs, base_urls, strict=True)):
        wait_healthy(run.children, f"{name}-{i}", proc, url + "/healthz")
    paths = _connect_carriers(base_urls[0], tenant["api_key"])
    request_file = run.workdir / f"requests-{name}.tsv"
    write_request_file(request_file, run.webhooks, paths)
    print(f"- gateway ({target.label}) on {', '.join(base_urls)}", flush=True)
    outcomes, session = _measure(
        run, target, base_urls, procs, worker, request_file, paths, database_url
    )
    outcomes[0].metrics = _sum_metrics([scrape_metrics(url + "/metrics") for url in base_urls])
    for i, proc in enumerate(procs):
        code = run.children.stop(proc)  # graceful: queued ingest commits finish first
        if code not in (0, -signal.SIGTERM):
            print(f"  gateway exited with {code}:\n{run.children.log_tail(f'{name}-{i}')}")
    if worker is not None:
        run.children.stop(worker)
    db = asyncio.run(count_rows(database_url, tenant["tenant_id"]))
    _check_rows(run, outcomes[0], session, db)


def _connect_carriers(base_url: str, api_key: str) -> dict[str, str]:
    paths: dict[str, str] = {}
    for carrier, auth in AUTH_CONFIG.items():
        status, body = http_json(
            "POST",
            base_url + "/v1/carrier-connections",
            {"carrier": carrier, "auth": auth},
            {"Authorization": f"Bearer {api_key}"},
        )
        if status != 201:
            raise BenchError(f"creating the {carrier} connection answered {status}: {body}")
        paths[carrier] = urlsplit(body["webhook_url"]).path
    return paths


def _measure(
    run: Run,
    target: Target,
    base_urls: list[str],
    procs: Sequence[subprocess.Popen[bytes]],
    worker: subprocess.Popen[bytes] | None,
    request_file: Path,
    paths: dict[str, str],
    database_url: str,
) -> tuple[list[Outcome], Session]:
    pids = [p.pid for p in procs]
    session = Session(run, base_urls, pids, request_file, _start_offsets(run, len(base_urls)))
    session.smoke(paths)
    if run.args.warmup:
        session.load(run.args.warmup)
    profiler = None
    if run.args.py_spy:
        out = Path(run.args.py_spy) / f"{target.label.replace(' ', '-')}.txt"
        profiler = (start_py_spy(run.children, pids[0], run.args.duration, out), out)
    worker_before = cpu_seconds(worker.pid) if worker else 0.0
    db_pids = asyncio.run(database_pids(database_url)) if target.database == "postgresql" else []
    db_before = sum(cpu_seconds(pid) for pid in db_pids)
    result = session.load(run.args.duration)
    outcome = Outcome(target.label, result, run.events_per_request, target)
    if worker is not None:
        worker_cpu = cpu_seconds(worker.pid) - worker_before
        outcome.worker_cpu_pct = 100 * worker_cpu / max(result.duration_s, 1e-9)
    if db_pids:
        db_cpu = sum(cpu_seconds(pid) for pid in db_pids) - db_before
        outcome.db_cpu_pct = 100 * db_cpu / max(result.duration_s, 1e-9)
    if profiler is not None and profiler[0] is not None:
        try:
            profiler[0].wait(timeout=run.args.duration + 30)
        except subprocess.TimeoutExpired:
            run.children.stop(profiler[0])
        outcome.profile = summarize_profile(profiler[1])
    outcomes = [outcome]
    if target.half_rate and result.rps > 0:
        half = session.load_at(result.rps / 2, run.args.duration)
        outcomes.append(
            Outcome(
                f"{target.label} @ half rate", half, run.events_per_request, target, throttled=True
            )
        )
    run.outcomes.extend(outcomes)
    return outcomes, session


def _check_rows(run: Run, outcome: Outcome, session: Session, db: dict[str, int]) -> None:
    """Every 2xx answer stored its raw payload; every distinct body sent is one event."""
    slack = session.runs * run.loader.connections  # in flight when a generator stopped
    raw, stored = db["raw_payloads"], db["events"]
    extra = raw - session.answered
    raw_ok = 0 <= extra <= slack
    distinct = len(run.webhooks)
    events_ok = min(session.answered, distinct) - slack <= stored <= min(raw, distinct)
    outcome.check_ok = raw_ok and events_ok
    outcome.check = (
        f"{session.answered} requests answered 2xx (all runs); {raw} raw payloads stored "
        f"({extra:+d} finished after the client stopped counting, <= {slack} expected) "
        f"{'OK' if raw_ok else 'MISMATCH'}; {stored} events in {db['shipments']} shipments, "
        f"{raw - stored} repeats collapsed as duplicates {'OK' if events_ok else 'MISMATCH'}"
    )


def scrape_metrics(url: str) -> dict[str, float]:
    """The gateway's Prometheus counters that explain its rate (whole life of the process)."""
    require_loopback(url)
    wanted = {
        "lastmile_ingest_batch_size_sum": "batch_requests",
        "lastmile_ingest_batch_size_count": "batches",
        "lastmile_outbox_relayed_total": "outbox_relayed",
        "lastmile_outbox_relay_errors_total": "relay_errors",
    }
    found: dict[str, float] = {}
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - loopback http only
            text = response.read().decode("utf-8", "replace")
    except OSError:
        return found
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            try:
                found[wanted[name]] = float(value)
            except ValueError:
                continue
    return found


def _sum_metrics(scrapes: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for scrape in scrapes:
        for key, value in scrape.items():
            total[key] = total.get(key, 0.0) + value
    return total


async def database_pids(database_url: str) -> list[int]:
    """PostgreSQL's processes serving this database now (the gateway's pools are warm)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
            return [int(pid) for pid in (await conn.execute(query)).scalars()]
    finally:
        await engine.dispose()


async def count_rows(database_url: str, tenant_id: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            async def count(query: sa.Select[tuple[int]]) -> int:
                return int((await conn.execute(query)).scalar_one())

            joined = events.join(shipments, events.c.shipment_id == shipments.c.id)
            return {
                "raw_payloads": await count(
                    sa.select(sa.func.count())
                    .select_from(raw_payloads)
                    .where(raw_payloads.c.tenant_id == tenant_id)
                ),
                "events": await count(
                    sa.select(sa.func.count())
                    .select_from(joined)
                    .where(shipments.c.tenant_id == tenant_id)
                ),
                "shipments": await count(
                    sa.select(sa.func.count())
                    .select_from(shipments)
                    .where(shipments.c.tenant_id == tenant_id)
                ),
            }
    finally:
        await engine.dispose()
