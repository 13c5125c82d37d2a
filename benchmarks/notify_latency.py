"""Event-in → provider-call-out latency of customer notifications, and a worker's events/s.

    uv run python benchmarks/notify_latency.py [--rate 200] [--duration 10]
        [--database sqlite|postgresql] [--workers 1] [--settings default|instant]
        [--saturate N] [--json FILE] [--py-spy DIR]

Real processes: an embedded Redis, one `lastmile serve`, `--workers` `lastmile worker`s
(LASTMILE_CHANNELS=twilio, the real Twilio SDK) and the fake Twilio (tests/fakes/fake_twilio.py)
in its own process, all on loopback. Each parcel is registered beforehand with its own phone
number (see notify_setup.py); its recipient lives where it is about noon now, so quiet hours hold
nothing back. `--settings default` keeps a new store's settings and rules (what a store gets:
its burst window included); `instant` turns waiting off (no quiet hours, no collapse window).

Latency (the default): UPS "out for delivery" webhooks are POSTed open-loop at `--rate` per
second for `--duration` seconds; a parcel's latency runs from the moment its webhook POST starts
to the moment the fake Twilio receives its SMS. 20 warm-up parcels go first and are left out.
Prints p50/p90/p99/max, the webhook answer times, how many SMS arrived and each process's CPU.

`--saturate N`: N webhooks are ingested while no worker runs (the serve relays their jobs to
arq); then the worker starts and the N SMS are timed from the worker's first finished job to the
last arrival: the worker's events/s, and its CPU per event. With `--py-spy DIR` the worker is
profiled over that drain. Every step is bounded: at most 20,000 events, timeouts everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from benchlib import (
    BenchError,
    Children,
    cpu_seconds,
    lastmile_executable,
    percentile,
    postgres_url,
    print_profile,
    run_lastmile,
    start_py_spy,
    summarize_profile,
    wait_healthy,
    write_json,
)
from notify_setup import (
    Sent,
    Urls,
    child_env,
    collect,
    prepare,
    send_steadily,
    serve_fake_twilio,
)
from redis import Redis

from gateway.platform.embedded_redis import EmbeddedRedis

MAX_EVENTS: Final = 20_000
WARMUP_EVENTS: Final = 20  # sent first at 10/s and left out of the figures
ARQ_QUEUE: Final = "arq:queue"
SATURATE_POST_RATE: Final = 1000.0  # webhooks/s while building the backlog (no worker running)


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'bench.db'}"
        return
    with postgres_url() as url:
        yield url


class World:
    """The processes of one measurement: fake Twilio, serve, workers (started on demand)."""

    def __init__(self, args: argparse.Namespace, children: Children, env: dict[str, str]) -> None:
        self.args = args
        self.children = children
        self.env = env
        self.urls = Urls(env["LASTMILE_PUBLIC_URL"], env["LASTMILE_TWILIO_BASE_URL"])
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start_front(self) -> None:
        """The fake Twilio and one `lastmile serve`, healthy (the schema migrated)."""
        fake_argv = [sys.executable, __file__, "--serve-fake-twilio", Urls.port(self.urls.fake)]
        self.procs["fake-twilio"] = self.children.start("fake-twilio", fake_argv, self.env)
        serve_argv = [lastmile_executable(), "serve", "--port", Urls.port(self.urls.gateway)]
        self.procs["serve"] = self.children.start("serve", serve_argv, self.env)
        wait_healthy(self.children, "serve", self.procs["serve"], f"{self.urls.gateway}/readyz")
        fake = self.procs["fake-twilio"]
        wait_healthy(self.children, "fake-twilio", fake, f"{self.urls.fake}/bench/arrivals")

    def start_workers(self) -> None:
        for n in range(self.args.workers):
            argv = [lastmile_executable(), "worker"]
            self.procs[f"worker{n}"] = self.children.start(f"worker{n}", argv, self.env)

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(p.pid) for name, p in self.procs.items()}


# ------------------------------------------------------------------------------------------------
# Latency at a steady rate
# ------------------------------------------------------------------------------------------------


def measure_latency(world: World, path: str, parcels: list[tuple[str, str]]) -> dict[str, Any]:
    args = world.args
    warmup, parcels = parcels[:WARMUP_EVENTS], parcels[WARMUP_EVENTS:]
    world.start_workers()
    time.sleep(1.0)  # workers connect to Redis
    # Cold start (the SDK's client, template compilation, locale data) is not steady state.
    asyncio.run(send_steadily(world.urls.gateway, path, warmup, 10.0))
    asyncio.run(collect(world.urls.fake, len(warmup), args.drain_timeout))
    cpu_before = world.cpu()
    began = time.monotonic()
    sent = asyncio.run(send_steadily(world.urls.gateway, path, parcels, args.rate))
    expected = len(sent.at) + len(warmup)
    arrivals = asyncio.run(collect(world.urls.fake, expected, args.drain_timeout))
    elapsed = time.monotonic() - began
    cpu = {name: s - cpu_before[name] for name, s in world.cpu().items()}
    return latency_report(sent, arrivals) | {
        "elapsed_s": round(elapsed, 2),
        "cpu_pct": {name: round(100 * s / elapsed, 1) for name, s in cpu.items()},
    }


def latency_report(sent: Sent, arrivals: dict[str, float]) -> dict[str, Any]:
    latencies = [(arrivals[p] - t) * 1000 for p, t in sent.at.items() if p in arrivals]
    answers = [a * 1000 for a in sent.answers_s]
    return {
        "events": len(sent.at),
        "arrived": len(latencies),
        "missing": len(sent.at) - len(latencies),
        "webhook_errors": sent.errors,
        "answer_p50_ms": round(percentile(answers, 0.5), 1),
        "answer_p99_ms": round(percentile(answers, 0.99), 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p90_ms": round(percentile(latencies, 0.9), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def print_latency(report: dict[str, Any]) -> None:
    print(f"  events posted:        {report['events']}")
    print(f"  SMS at fake Twilio:   {report['arrived']}  (missing {report['missing']})")
    if report["webhook_errors"]:
        print(f"  webhook errors:       {report['webhook_errors']}")
    print(
        f"  webhook 202 answer:   p50 {report['answer_p50_ms']} ms  "
        f"p99 {report['answer_p99_ms']} ms"
    )
    print(
        f"  event-in → SMS-out:   p50 {report['p50_ms']} ms  p90 {report['p90_ms']} ms  "
        f"p99 {report['p99_ms']} ms  max {report['max_ms']} ms"
    )
    busy = ", ".join(f"{name} {pct:.0f}%" for name, pct in report["cpu_pct"].items())
    print(f"  CPU over {report['elapsed_s']}s:  {busy} (of one core)")


# ------------------------------------------------------------------------------------------------
# A worker's events/s over a backlog
# ------------------------------------------------------------------------------------------------


def measure_saturation(world: World, path: str, parcels: list[tuple[str, str]]) -> dict[str, Any]:
    """Backlog first (no worker), then time the worker draining it."""
    args = world.args
    sent = asyncio.run(send_steadily(world.urls.gateway, path, parcels, SATURATE_POST_RATE))
    if sent.errors:
        raise BenchError(f"{sent.errors} webhooks failed while building the backlog")
    redis = Redis.from_url(world.env["LASTMILE_REDIS_URL"])
    try:
        _wait_for(lambda: redis.zcard(ARQ_QUEUE) >= len(parcels), 60, "the backlog in arq")
        world.start_workers()
        worker = world.procs["worker0"]
        _wait_for(lambda: redis.zcard(ARQ_QUEUE) != len(parcels), 60, "the worker's first job")
    finally:
        redis.close()
    began, cpu_before = time.time(), cpu_seconds(worker.pid)
    profiler = None
    if args.py_spy:
        out = Path(args.py_spy) / "worker-saturated.txt"
        profiler = start_py_spy(world.children, worker.pid, 600, out)
    arrivals = asyncio.run(collect(world.urls.fake, len(parcels), args.drain_timeout))
    cpu = cpu_seconds(worker.pid) - cpu_before
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(timeout=30)
    drained_s = max(arrivals.values(), default=began) - began
    report: dict[str, Any] = {
        "events": len(parcels),
        "arrived": len(arrivals),
        "drain_s": round(drained_s, 2),
        "events_per_s": round(len(arrivals) / drained_s, 1) if drained_s > 0 else None,
        "worker_cpu_ms_per_event": round(1000 * cpu / max(len(arrivals), 1), 2),
        "worker_cpu_pct": round(100 * cpu / max(drained_s, 1e-9), 1),
    }
    if profiler is not None:
        report["profile"] = summarize_profile(Path(args.py_spy) / "worker-saturated.txt", top=25)
    return report


def _wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.01)


def print_saturation(report: dict[str, Any], workers: int) -> None:
    print(f"  backlog:              {report['events']} events, {workers} worker(s)")
    print(f"  SMS at fake Twilio:   {report['arrived']} in {report['drain_s']} s")
    print(
        f"  worker events/s:      {report['events_per_s']}  "
        f"(worker CPU {report['worker_cpu_ms_per_event']} ms/event, "
        f"{report['worker_cpu_pct']:.0f}% of one core)"
    )
    if "profile" in report:
        print_profile("worker at saturation", report["profile"])


# ------------------------------------------------------------------------------------------------
# Orchestration
# ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    saturate = args.saturate is not None
    count = args.saturate if saturate else int(args.rate * args.duration) + WARMUP_EVENTS
    count = min(count, MAX_EVENTS)
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="notify-bench-")))
        children = Children(args.log_dir or directory)
        stack.callback(children.stop_all)
        redis_url = stack.enter_context(EmbeddedRedis())
        database_url = stack.enter_context(database(args.database, directory))
        env = child_env(database_url, redis_url, Urls.free(), args.log_dir)
        run_lastmile(["migrate"], env)
        instant = args.settings == "instant"
        path, parcels = asyncio.run(prepare(database_url, count, instant=instant))
        world = World(args, children, env)
        world.start_front()
        what = f"{args.database}, {args.settings} settings, 1 serve + {args.workers} worker(s)"
        if saturate:
            print(f"worker events/s: backlog of {count} events, {what}, fake Twilio", flush=True)
            report = measure_saturation(world, path, parcels)
            print_saturation(report, args.workers)
        else:
            events = count - WARMUP_EVENTS
            print(f"notify latency: {events} events at {args.rate:.0f}/s, {what}", flush=True)
            report = measure_latency(world, path, parcels)
            print_latency(report)
    return report | {
        "mode": "saturate" if saturate else "latency",
        "rate": None if saturate else args.rate,
        "database": args.database,
        "settings": args.settings,
        "workers": args.workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, choices=range(1, 9))
    parser.add_argument("--settings", choices=("default", "instant"), default="default")
    parser.add_argument("--saturate", type=int, metavar="N", help="a worker's events/s instead")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--py-spy", metavar="DIR", help="profile the worker (--saturate)")
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs (INFO) here")
    parser.add_argument("--serve-fake-twilio", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_twilio:
        serve_fake_twilio(args.serve_fake_twilio)
        return
    if args.saturate is not None and not 1 <= args.saturate <= MAX_EVENTS:
        parser.error(f"--saturate must be 1..{MAX_EVENTS}")
    try:
        report = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if args.json:
            write_json(args.json, {"error": str(exc)})
        sys.exit(1)
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
