"""Driver pings: accepted pings/s on one `serve` process, and ping → alert webhook latency.

    uv run python benchmarks/driver_pings.py [--database sqlite|postgresql] [--drivers 8]
        [--batches 40] [--latency-drivers 20] [--cycles 4] [--batch-interval 0.5]

Real processes on loopback: an embedded Redis, one `lastmile serve`, one `lastmile worker`.

1. Throughput. `--drivers` drivers work a day (benchmarks/driver_traces.py: a 120 km planned
   path through a city, a stop every 2 km, 3 minutes parked at each, then `delivered`) and post
   `--batches` batches of 500 pings (1 Hz, 5 m noise), in order, one request in flight per
   driver, as fast as the gateway answers, and the `delivered` stop events as they happen. Every
   batch is screened and runs geofence, deviation, speed and an ETA per open stop, stores 500
   positions and publishes the newest. The first 3 batches per driver are warm-up. Reports
   accepted pings/s, batch latency and the server's CPU, and checks the positions stored.
2. Latency. `--latency-drivers` drivers follow an avenue and leave it by 400 m once per cycle
   (`--cycles`), posting 10-ping batches every `--batch-interval` s each. A store webhook
   endpoint on a local receiver takes `driver.off_route` and `driver.back_on_route`. For each
   alert: from the start of the POST that carried the confirming ping to the receiver getting
   the signed webhook (verified with `standardwebhooks`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
import sqlalchemy as sa
import standardwebhooks.webhooks as stdwh
from aiohttp import web

BENCH_DIR: Final = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

import driver_traces as traces  # noqa: E402
from benchlib import write_json  # noqa: E402
from ingest import (  # noqa: E402 - the sibling benchmark's process helpers
    HOST,
    BenchError,
    Children,
    cpu_seconds,
    lastmile_executable,
    run_lastmile,
    summarize_profile,
    wait_healthy,
)
from notify_latency import database  # noqa: E402

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port  # noqa: E402

BATCH: Final = 500
STOPS: Final = 55
STOP_SPACING_M: Final = 2000.0
WARMUP_BATCHES: Final = 3
ALERTS: Final = ["driver.off_route", "driver.back_on_route"]
TIMEOUT_S: Final = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Gateway:
    url: str
    api_key: str
    serve_pid: int
    children: Children

    def session(self, token: str | None = None) -> aiohttp.ClientSession:
        headers = {"Authorization": f"Bearer {token or self.api_key}"}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        return aiohttp.ClientSession(self.url, headers=headers, timeout=timeout)


async def _work_day(
    gateway: Gateway,
    planned: traces.Planned,
    batches: list[traces.DayBatch],
    tally: Tally,
    deliveries: bool = True,
) -> None:
    """Post the batches in order; after each, `delivered` for the stops it finished."""
    headers = {"Content-Type": "application/json"}
    async with gateway.session(planned.token) as session:
        for batch in batches:
            sent = time.perf_counter()
            async with session.post("/v1/driver/locations", data=batch.body, headers=headers) as r:
                answer = await r.json()
                if r.status != 202:
                    raise BenchError(f"locations answered {r.status}: {answer}")
            tally.latencies.append(time.perf_counter() - sent)
            tally.accepted += int(answer["accepted"])
            for stop, when in batch.delivered if deliveries else []:
                event = {"type": "delivered", "occurred_at": when.isoformat()}
                path = f"/v1/driver/stops/{planned.shipment_ids[stop]}/events"
                async with session.post(path, json=event) as r:
                    if r.status != 201:
                        raise BenchError(f"stop event answered {r.status}: {await r.text()}")
                tally.stop_events += 1


@dataclass
class Tally:
    accepted: int = 0
    stop_events: int = 0
    latencies: list[float] = field(default_factory=list)


async def throughput(gateway: Gateway, args: argparse.Namespace, database_url: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=23)
    path = traces.serpentine()
    stops = traces.day_stops(path, STOPS, STOP_SPACING_M)
    async with gateway.session() as session:
        drivers = [
            await traces.planned_driver(session, f"T{d}", stops, path) for d in range(args.drivers)
        ]
    days = [
        traces.day_batches(path, STOP_SPACING_M, 180, start, args.batches, BATCH, seed=d)
        for d in range(args.drivers)
    ]
    warm = Tally()  # the first batches: speed learning settles, first ETAs are reported
    for planned, day in zip(drivers, days, strict=True):
        await _work_day(gateway, planned, day[:WARMUP_BATCHES], warm)
    tally = Tally()
    profiler = _profile(gateway, args.py_spy)
    cpu_before, began = cpu_seconds(gateway.serve_pid), time.perf_counter()
    await asyncio.gather(
        *(
            _work_day(gateway, p, d[WARMUP_BATCHES:], tally, not args.no_deliveries)
            for p, d in zip(drivers, days, strict=True)
        )
    )
    elapsed = time.perf_counter() - began
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        profiler.wait(timeout=30)
    cpu = (cpu_seconds(gateway.serve_pid) - cpu_before) / elapsed
    sent = (args.batches - WARMUP_BATCHES) * BATCH * args.drivers
    stored = await _positions(database_url)
    print(
        f"throughput: {args.drivers} drivers x {args.batches - WARMUP_BATCHES} batches of "
        f"{BATCH} pings (route of {STOPS} stops, {len(path)}-vertex path)"
    )
    _report_throughput(tally, elapsed, cpu, sent)
    FOUND.update(
        pings_per_s=tally.accepted / elapsed, accepted=tally.accepted, sent=sent,
        batch_p50_ms=percentile(tally.latencies, 50) * 1000,
        batch_p99_ms=percentile(tally.latencies, 99) * 1000, serve_cpu=cpu,
        deliveries=not args.no_deliveries, drivers=args.drivers,
    )  # fmt: skip
    total = tally.accepted + warm.accepted
    print(f"  positions stored:   {stored:,} (accepted incl. warm-up: {total:,})")
    if args.py_spy:
        for title, rows in summarize_profile(args.py_spy).items():
            print(f"  {title}:")
            for name, share in rows:
                print(f"    {share:5.1f}%  {name}")


def _report_throughput(tally: Tally, elapsed: float, cpu: float, sent: int) -> None:
    lat = tally.latencies
    print(f"  accepted pings/s:   {tally.accepted / elapsed:,.0f}  (goal >= 20,000)")
    print(
        f"  accepted / sent:    {tally.accepted:,} / {sent:,} in {elapsed:.1f} s, "
        f"with {tally.stop_events} delivered events"
    )
    print(
        f"  batch latency ms:   p50 {percentile(lat, 50) * 1000:.1f}, "
        f"p99 {percentile(lat, 99) * 1000:.1f}"
    )
    print(f"  serve CPU:          {cpu:.0%} of one core (load average {os.getloadavg()[0]:.1f})")
    print(f"  pings per serve CPU-second: {tally.accepted / (cpu * elapsed):,.0f}")


def _profile(gateway: Gateway, out: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy on the serve process during the throughput run (`--py-spy FILE`)."""
    py_spy = shutil.which("py-spy") or os.environ.get("PY_SPY")
    if out is None or py_spy is None:
        return None
    argv = [py_spy, "record", "--pid", str(gateway.serve_pid), "--rate", "200", "--format", "raw",
            "--threads", "--nonblocking", "--output", str(out)]  # fmt: skip
    return gateway.children.start("py-spy", argv, dict(os.environ))


async def _positions(database_url: str) -> int:
    from gateway.drivers.tables import driver_positions
    from gateway.platform.db import create_engine

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        count = await conn.execute(sa.select(sa.func.count()).select_from(driver_positions))
        total = int(count.scalar_one())
    await engine.dispose()
    return total


@dataclass
class Receiver:
    secret: str = ""
    expected: int = 0
    arrivals: dict[tuple[str, str, str], float] = field(default_factory=dict)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        body = await request.read()
        stdwh.Webhook(self.secret).verify(body, dict(request.headers))
        message = json.loads(body)
        data = message["data"]
        self.arrivals.setdefault((message["type"], data["route_id"], data["at"]), arrived)
        if self.expected and len(self.arrivals) >= self.expected:
            self.complete.set()
        return web.Response(status=204)


async def latency(gateway: Gateway, args: argparse.Namespace) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = find_free_port()
    await web.TCPSite(runner, HOST, port).start()
    try:
        await _measure_latency(gateway, args, receiver, f"http://{HOST}:{port}/hook")
    finally:
        await runner.cleanup()


async def _measure_latency(
    gateway: Gateway, args: argparse.Namespace, receiver: Receiver, hook_url: str
) -> None:
    async with gateway.session() as session:
        async with session.post(
            "/v1/webhook-endpoints", json={"url": hook_url, "event_types": ALERTS}
        ) as r:
            receiver.secret = (await r.json())["secret"]
        far_stop = [(traces.AVENUE_M, 0.0)]
        planned = [
            await traces.planned_driver(session, f"L{d}", far_stop, traces.avenue())
            for d in range(args.latency_drivers)
        ]
    tokens = [p.token for p in planned]
    routes = {p.route_id: p.token for p in planned}
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    batches, expected = traces.detour_batches(start, args.cycles, 10, seed=3)
    sent: dict[tuple[str, datetime], float] = {}  # (token, first ping) -> POST start
    answered: dict[tuple[str, datetime], float] = {}  # -> 202 received

    async def drive(token: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with gateway.session(token) as session:
            for batch in batches:
                sent[(token, batch.first_at)] = time.perf_counter()
                headers = {"Content-Type": "application/json"}
                async with session.post(
                    "/v1/driver/locations", data=batch.body, headers=headers
                ) as r:
                    if r.status != 202:
                        raise BenchError(f"locations answered {r.status}")
                answered[(token, batch.first_at)] = time.perf_counter()
                await asyncio.sleep(args.batch_interval)

    spread = args.batch_interval / max(1, args.latency_drivers)
    await asyncio.gather(*(drive(t, i * spread) for i, t in enumerate(tokens)))
    receiver.expected = expected * len(tokens)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiver.complete.wait(), timeout=30)
    waits, after_202 = [], []
    for (_, route_id, at), arrived in receiver.arrivals.items():
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        batch = next(b for b in batches if b.first_at <= moment <= b.last_at)
        waits.append(arrived - sent[(routes[route_id], batch.first_at)])
        after_202.append(arrived - answered[(routes[route_id], batch.first_at)])
    answers = [answered[k] - sent[k] for k in answered]
    _report_latency(args, receiver, expected * len(tokens), waits)
    if waits:
        FOUND.update(
            alerts=len(receiver.arrivals), alerts_expected=expected * len(tokens),
            alert_p50_ms=percentile(waits, 50) * 1000, alert_p99_ms=percentile(waits, 99) * 1000,
        )  # fmt: skip
    print(f"  of which after the 202: {_spread(after_202)};  every 202 took: {_spread(answers)}")


def _report_latency(
    args: argparse.Namespace, receiver: Receiver, expected: int, waits: list[float]
) -> None:
    print(
        f"latency: {args.latency_drivers} drivers, a 10-ping batch every {args.batch_interval} s "
        f"each, {len(receiver.arrivals)}/{expected} alerts received, all signed"
    )
    if waits:
        print(f"  ping -> webhook ms: {_spread(waits)}  (goal p99 <= 1000)")


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    p50, p90, p99 = (percentile(values, q) * 1000 for q in (50, 90, 99))
    return f"p50 {p50:.0f}, p90 {p90:.0f}, p99 {p99:.0f}, max {max(values) * 1000:.0f}"


def run(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pings-bench-")))
        children = Children(args.log_dir or directory)
        stack.callback(children.stop_all)
        redis_url = stack.enter_context(EmbeddedRedis())
        database_url = stack.enter_context(database(args.database, directory))
        url = f"http://{HOST}:{find_free_port()}"
        env = {
            **os.environ,
            "LASTMILE_DATABASE_URL": database_url,
            "LASTMILE_REDIS_URL": redis_url,
            "LASTMILE_PUBLIC_URL": url,
            "LASTMILE_DEV": "1",
            "LASTMILE_LOG_LEVEL": "INFO" if args.log_dir else "WARNING",
            "LASTMILE_PROOF_STORAGE": str(directory / "proofs"),
        }
        run_lastmile(["migrate"], env)
        api_key = json.loads(run_lastmile(["tenants", "create", "bench"], env))["api_key"]
        serve = children.start(
            "serve", [lastmile_executable(), "serve", "--port", url.rsplit(":", 1)[1]], env
        )
        children.start("worker", [lastmile_executable(), "worker"], env)
        wait_healthy(children, "serve", serve, f"{url}/readyz")
        gateway = Gateway(url, api_key, serve.pid, children)
        print(f"driver pings benchmark: {args.database}, 1 serve + 1 worker process")
        asyncio.run(throughput(gateway, args, database_url))
        asyncio.run(latency(gateway, args))


# The figures for `--json` (bench.py's table): filled in by throughput() and latency().
FOUND: dict[str, Any] = {}


def summary(found: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if "pings_per_s" in found:
        what = "with stop events" if found["deliveries"] else "pings only"
        rows.append(
            {"figure": f"accepted pings/s, batches of 500 ({what})",
             "value": f"{found['pings_per_s']:,.0f}", "unit": "pings/s",
             "p50_ms": round(found["batch_p50_ms"], 1), "p99_ms": round(found["batch_p99_ms"], 1),
             "note": f"{found['drivers']} drivers, geofence + deviation + ETA evaluated, "
                     f"serve CPU {found['serve_cpu']:.0%}",
             "goal": ">= 20,000", "met": found["pings_per_s"] >= 20_000}
        )  # fmt: skip
    if "alert_p99_ms" in found:
        rows.append(
            {"figure": "ping -> signed alert webhook", "value": found["alerts"], "unit": "alerts",
             "p50_ms": round(found["alert_p50_ms"], 1), "p99_ms": round(found["alert_p99_ms"], 1),
             "note": f"{found['alerts']}/{found['alerts_expected']} received",
             "goal": "p99 <= 1000 ms", "met": found["alert_p99_ms"] <= 1000}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--drivers", type=int, default=8, choices=range(1, 65))
    parser.add_argument("--batches", type=int, default=40, choices=range(2, 161))
    parser.add_argument("--latency-drivers", type=int, default=20, choices=range(1, 201))
    parser.add_argument("--cycles", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--batch-interval", type=float, default=0.5)
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs (INFO) here")
    parser.add_argument("--py-spy", type=Path, help="profile serve during the throughput run")
    parser.add_argument(
        "--no-deliveries", action="store_true", help="throughput: pings only, no stop events"
    )
    parser.add_argument("--quick", action="store_true", help="fewer drivers and batches")
    parser.add_argument("--json", type=Path, help="also write the figures here (bench.py)")
    args = parser.parse_args()
    if args.quick:
        args.drivers, args.batches, args.latency_drivers, args.cycles = 4, 12, 8, 2
    try:
        run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if args.json:
            write_json(args.json, {**FOUND, "error": str(exc)})
        sys.exit(1)
    if args.json:
        write_json(args.json, {**FOUND, "summary": summary(FOUND)})


if __name__ == "__main__":
    main()
