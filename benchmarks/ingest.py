"""Carrier-webhook ingest throughput: the gateway against a bare aiohttp handler, same client.

    uv run python benchmarks/ingest.py [--duration 10] [--connections 32]
                                       [--database sqlite|postgresql|both]
                                       [--with-worker] [--two-serves] [--half-rate]
                                       [--json FILE] [--py-spy DIR]

Starts an embedded Redis, a bare aiohttp server (``benchmarks/bare_server.py``) and, per database
(a fresh SQLite file per target; PostgreSQL from ``$LASTMILE_BENCH_POSTGRES_URL`` or a throwaway
server from ``tests/services.py``), the gateway targets asked for: one ``lastmile serve``; with
``--with-worker`` also one serve plus one ``lastmile worker`` (console channel); with
``--two-serves`` two serve processes on PostgreSQL, each loaded by its own client with half the
connections. ``--half-rate`` adds, for each single-serve target, a throttled run at half the rate
it just measured (latency at a load it can carry). The same pre-signed FedEx and UPS webhooks go
to each with ``wrk`` (or ``benchmarks/loadgen.py`` when wrk is missing); a table is printed and
the database checked against the 2xx answers. See benchmarks/README.md for the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Final

from benchlib import (
    HOST,
    BenchError,
    Children,
    cpu_seconds,
    lastmile_executable,
    postgres_url,
    run_lastmile,
    summarize_profile,
    wait_healthy,
    write_json,
)
from ingest_targets import Outcome, Run, Target, run_bare, run_gateway
from load import pick_loader
from webhook_requests import generate_webhooks, self_check

from gateway.platform.embedded_redis import EmbeddedRedis

# Sibling benchmarks written before benchlib.py import these helpers from here.
__all__ = [
    "HOST",
    "BenchError",
    "Children",
    "cpu_seconds",
    "lastmile_executable",
    "main",
    "run_lastmile",
    "summarize_profile",
    "wait_healthy",
]

TARGET_SHARE: Final = 0.30  # serve alone vs the bare handler (issue 13; 50% is the moonshot)
TARGET_SHARE_WHOLE: Final = 0.10  # serve + worker on SQLite
TARGET_TWO_SERVES: Final = 1.7  # two serves vs one, PostgreSQL
TARGET_HALF_P99_MS: Final = 50.0


def targets(args: argparse.Namespace) -> list[Target]:
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    out: list[Target] = []
    for db in databases:
        out.append(Target(db, serves=1, worker=False, half_rate=args.half_rate))
        if args.with_worker:
            out.append(Target(db, serves=1, worker=True))
        if args.two_serves and db == "postgresql":
            out.append(Target(db, serves=2, worker=False))
    return out


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def print_report(run: Run) -> None:
    bare = run.bare_rps()
    header = (
        f"{'target':<28} {'req/s':>7} {'events/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>7} {'errors':>6} {'srv CPU':>7} {'us/req':>6} {'wrk CPU':>7} {'db CPU':>6} "
        f"{'cli CPU':>7} {'vs bare':>7}"
    )
    print()
    print(
        f"loader={run.loader.kind} connections={run.loader.connections} "
        f"duration={run.args.duration}s warmup={run.args.warmup}s cores={os.cpu_count()} "
        f"distinct requests={len(run.webhooks)} "
        f"load average={' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(header)
    print("-" * len(header))
    for o in run.outcomes:
        r = o.result
        ratio = f"{100 * r.rps / bare:.0f}%" if bare else "-"
        worker = f"{o.worker_cpu_pct:.0f}%" if o.worker_cpu_pct is not None else "-"
        db = f"{o.db_cpu_pct:.0f}%" if o.db_cpu_pct is not None else "-"
        print(
            f"{o.name:<28} {r.rps:>7.0f} {r.ok_rps * o.events_per_request:>8.0f} "
            f"{r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.non2xx:>7d} {r.socket_errors:>6d} "
            f"{r.server_cpu_pct:>6.0f}% {r.server_cpu_us_per_request:>6.0f} {worker:>7} {db:>6} "
            f"{r.client_cpu_pct:>6.0f}% {ratio:>7}"
        )
    for o in run.outcomes:
        if o.check:
            print(f"\n{o.name}: {o.check}")
    for o in run.outcomes:
        if o.metrics.get("batches"):
            m = o.metrics
            print(
                f"\n{o.name}: {m['batches']:.0f} ingest transactions, "
                f"{m['batch_requests'] / m['batches']:.1f} requests per group commit on average; "
                f"{m.get('outbox_relayed', 0):.0f} outbox jobs relayed to arq "
                f"({m.get('relay_errors', 0):.0f} relay errors)"
            )
    for o in run.outcomes:
        for title, rows in o.profile.items():
            print(f"\n{o.name}: py-spy {title} (% of busy samples, all threads)")
            for func, pct in rows:
                print(f"  {pct:5.1f}%  {func}")
    print()
    for line in goal_lines(run):
        print(line)


def goal_lines(run: Run) -> list[str]:
    bare = run.bare_rps()
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for o in run.outcomes:
        t = o.target
        if t is None or not bare:
            continue
        share = o.result.rps / bare
        if t.serves == 1 and not t.worker and not o.throttled:
            lines.append(
                f"goal: {o.name} >= {TARGET_SHARE:.0%} of the bare handler: {share:.0%} "
                f"({verdict(share >= TARGET_SHARE)}; 50% moonshot)"
            )
        if t.worker and t.database == "sqlite":
            lines.append(
                f"goal: {o.name} >= {TARGET_SHARE_WHOLE:.0%} of the bare handler: {share:.0%} "
                f"({verdict(share >= TARGET_SHARE_WHOLE)})"
            )
        if o.throttled:
            lines.append(
                f"goal: {o.name}: p99 {o.result.p99_ms:.1f} ms <= {TARGET_HALF_P99_MS:.0f} ms "
                f"({verdict(o.result.p99_ms <= TARGET_HALF_P99_MS)})"
            )
    one = run.find("postgresql", serves=1)
    two = run.find("postgresql", serves=2)
    if one and two and one.result.rps:
        ratio = two.result.rps / one.result.rps
        lines.append(
            f"goal: two PostgreSQL serves >= {TARGET_TWO_SERVES}x one: {ratio:.2f}x "
            f"({verdict(ratio >= TARGET_TWO_SERVES)})"
        )
    return lines


def json_report(run: Run) -> dict[str, object]:
    bare = run.bare_rps()

    def row(o: Outcome) -> dict[str, object]:
        r = o.result
        return {
            "name": o.name,
            **asdict(r),
            "rps": round(r.rps, 1),
            "server_cpu_us_per_request": round(r.server_cpu_us_per_request, 1),
            "events_per_s": round(r.ok_rps * o.events_per_request, 1),
            "worker_cpu_pct": o.worker_cpu_pct,
            "db_cpu_pct": o.db_cpu_pct,
            "vs_bare": round(r.rps / bare, 4) if bare else None,
            "target": asdict(o.target) if o.target else None,
            "throttled": o.throttled,
            "check": o.check,
            "check_ok": o.check_ok,
            "metrics": o.metrics,
        }

    return {
        "loader": run.loader.kind,
        "connections": run.loader.connections,
        "duration_s": run.args.duration,
        "distinct_requests": len(run.webhooks),
        "outcomes": [row(o) for o in run.outcomes],
        "goals": goal_lines(run),
    }


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--with-worker", action="store_true", help="also serve + worker")
    parser.add_argument("--two-serves", action="store_true", help="also two serves (PostgreSQL)")
    parser.add_argument(
        "--half-rate", action="store_true", help="also a throttled run at half the measured rate"
    )
    parser.add_argument(
        "--requests", type=int, default=30_000, help="distinct requests per carrier (FedEx, UPS)"
    )
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="profile each gateway run with py-spy (if installed); raw stacks go to DIR",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1..600 and --warmup 0..60 seconds")
    if not 2 <= args.connections <= 1000 or not 1 <= args.requests <= 1_000_000:
        parser.error("--connections must be 2..1000 and --requests 1..1000000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loader = pick_loader(args.loader, args.connections)
    webhooks = generate_webhooks(args.requests)
    self_check(webhooks)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lastmile-bench-")))
        redis_url = stack.enter_context(EmbeddedRedis())
        children = Children(workdir)
        stack.callback(children.stop_all)
        run = Run(args, loader, webhooks, children, workdir, redis_url)
        try:
            run_bare(run)
            pg_url: str | None = None
            for target in targets(args):
                if target.database == "sqlite":
                    url = f"sqlite+aiosqlite:///{workdir / (target.label + '.db')}"
                else:
                    pg_url = pg_url or stack.enter_context(postgres_url())
                    url = pg_url
                run_gateway(run, target, url)
        except BenchError as exc:
            print_report(run)
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            if args.json:
                write_json(args.json, json_report(run))
        print_report(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
