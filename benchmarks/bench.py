"""`make bench`: every benchmark of the gateway in one run, one table, one JSON file.

    uv run python benchmarks/bench.py [--quick] [--only ingest,notify,worker,page,driver,extra]

Runs, one after the other (never two loads at once on a 2-core machine), each sibling script
with `--json` and gathers what they wrote: ingest against the bare handler (serve alone, serve +
worker, SQLite and PostgreSQL, two serves on PostgreSQL, half-rate latency); webhook → fake
Twilio latency with a new store's default settings at 50, 200 and 500 events/s; one worker's
events/s over a backlog, with a py-spy profile; the tracking page; the pure driver rules; and
the benchmarks listed in EXTRA once their scripts exist. A section that fails is reported as
failed and the run goes on. Writes benchmarks/results/bench-<time>.json and latest.json.
`--quick` shortens every run (for iterating; the figures are noisier). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench_table import Row, print_table
from benchlib import BENCH_DIR, REPO_ROOT, RESULTS_DIR, write_json

SECTION_TIMEOUT_S: Final = 900
NOTIFY_RATES: Final = (50, 200, 500)
# Benchmarks that land with their areas: label -> script. Each is run with `--json FILE` (and
# `--quick` in quick mode) when its --help offers them; its JSON's "summary" rows join the table.
EXTRA: Final = {
    "driver pings": "driver_pings.py",
    "live updates (SSE)": "sse_viewers.py",  # viewers held, ping -> page, RSS
}


def run_script(
    script: str, args: list[str], out: Path, timeout_s: float = SECTION_TIMEOUT_S
) -> dict[str, Any]:
    """Run a sibling benchmark with `--json out`; its JSON, or {"error": ...}."""
    argv = [sys.executable, str(BENCH_DIR / script), *args, "--json", str(out)]
    print(f"\n$ {' '.join(argv[1:])}", flush=True)
    out.unlink(missing_ok=True)
    try:
        done = subprocess.run(argv, cwd=REPO_ROOT, timeout=timeout_s, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        return {"error": f"{script} timed out after {timeout_s:.0f} s"}
    try:
        document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": f"{script} exited with {done.returncode} and wrote no figures"}
    if done.returncode != 0 and "error" not in document:
        document["error"] = f"{script} exited with {done.returncode}"
    return document


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------


def ingest(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    timing = ["--duration", "3", "--warmup", "1"] if args.quick else ["--duration", "10"]
    extra = ["--requests", "10000"] if args.quick else []
    flags = ["--database", "both", "--with-worker", "--two-serves", "--half-rate"]
    return run_script("ingest.py", [*timing, *extra, *flags], work / "ingest.json")


def notify(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    duration = "3" if args.quick else "10"
    return {
        str(rate): run_script(
            "notify_latency.py",
            ["--rate", str(rate), "--duration", duration, "--settings", "default"],
            work / f"notify-{rate}.json",
        )
        for rate in NOTIFY_RATES
    }


def worker(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    backlog = "600" if args.quick else "3000"
    profile = ["--py-spy", str(work / "py-spy")]
    return run_script(
        "notify_latency.py",
        ["--saturate", backlog, "--settings", "instant", *profile],
        work / "worker.json",
    )


def page(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    duration = "3" if args.quick else "10"
    return run_script("tracking_page.py", ["--duration", duration], work / "page.json")


def driver(args: argparse.Namespace, _work: Path) -> dict[str, Any]:
    """The pure rules benchmark prints a table; its whole-batch line is the figure."""
    argv = [sys.executable, str(BENCH_DIR / "driver_rules.py")]
    argv += ["--batches", "40" if args.quick else "200"]
    print(f"\n$ {' '.join(argv[1:])}", flush=True)
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": "driver_rules.py timed out"}
    print(done.stdout, end="")
    stages = {
        m[1].strip(): {"ms_per_batch": float(m[2]), "pings_per_s": float(m[3].replace(",", ""))}
        for m in re.finditer(r"^(.+?)\s+([\d.]+) ms/batch\s+([\d,]+) pings/s$", done.stdout, re.M)
    }
    if done.returncode != 0 or not stages:
        return {"error": f"driver_rules.py exited with {done.returncode}: {done.stderr[-500:]}"}
    return {"stages": stages}


def extra(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for label, script in EXTRA.items():
        path = BENCH_DIR / script
        if not path.is_file():
            found[label] = {"absent": script}
            continue
        usage = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, str(path), "--help"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        if "--json" not in usage:
            found[label] = {"error": f"{script} takes no --json: run it by hand"}
            continue
        flags = ["--quick"] if args.quick and "--quick" in usage else []
        found[label] = run_script(script, flags, work / f"{path.stem}.json")
    return found


SECTIONS: Final[dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]]] = {
    "ingest": ingest,
    "notify": notify,
    "worker": worker,
    "page": page,
    "driver": driver,
    "extra": extra,
}


# ------------------------------------------------------------------------------------------------
# Machine and main
# ------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for iterating")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}"
    )
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    started = datetime.now(UTC)
    work = RESULTS_DIR / f"bench-{started:%Y%m%d-%H%M%S}"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "started": started.isoformat(),
        "quick": args.quick,
        "machine": machine(),
    }
    began = time.monotonic()
    for name in wanted:
        report[name] = SECTIONS[name](args, work)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["elapsed_s"] = round(time.monotonic() - began, 1)
    rows: list[Row] = print_table(report)
    report["table"] = [row.as_dict() for row in rows]
    write_json(work / "bench.json", report)
    write_json(RESULTS_DIR / "latest.json", report)
    print(f"\nfigures: {work / 'bench.json'} (and {RESULTS_DIR / 'latest.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
