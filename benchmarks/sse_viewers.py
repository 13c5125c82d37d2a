"""Live viewers: SSE streams held by one `serve` process, and ping → open page latency.

    uv run python benchmarks/sse_viewers.py [--viewers 5000] [--drivers 10] [--rate 10]
        [--duration 30] [--quick] [--json FILE]

Real processes on loopback: an embedded Redis, SQLite, one `lastmile serve` (no worker: the
serve process publishes each accepted ping itself). `--drivers` drivers each get a route whose
first stop is shown live; `--viewers` customers open `/t/{token}/live` on those stops (spread
evenly), as browsers do (one HTTP/1.0 connection each, read line by line). Then the drivers
post one ping each through the driver API, `--rate` pings/s in all, for `--duration` s; every
ping reaches viewers/drivers streams (default: 5,000 viewers, a ping per driver every 5 s:
1,000 events/s).

Reports: streams held to the end (dropped ones count against it), ping → `position` event on
every open stream (from the start of the POST to the line arriving at the viewer), the serve
process's RSS with every viewer connected and its CPU during the pings. Goals (issue 12): 5,000
viewers held, RSS ≤ 300 MB, p99 ≤ 1 s with that many connected. The viewers run in this one
Python process on the same 2 cores, so the latency includes their own queueing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp

BENCH_DIR: Final = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from benchlib import (  # noqa: E402
    HOST,
    BenchError,
    Children,
    cpu_seconds,
    lastmile_executable,
    percentile,
    run_lastmile,
    wait_healthy,
    write_json,
)
from driver_traces import latlon, planned_driver  # noqa: E402

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port  # noqa: E402

CONNECT_AT_ONCE: Final = 100  # viewers connecting concurrently (a crowd, not a stampede)
STEP_M: Final = 8.0  # each ping 8 m further east: a plausible speed at one ping a second
TIMEOUT_S: Final = 30.0


@dataclass
class Tally:
    sent: dict[str, float] = field(default_factory=dict)  # position_key -> POST start
    arrivals: list[tuple[str, float]] = field(default_factory=list)  # (position_key, arrived)
    open_streams: int = 0
    ended: int = 0  # streams the server ended (dropped as slow, or an error)


async def viewer(port: int, path: str, tally: Tally, connected: asyncio.Event) -> None:
    """One browser tab: GET the stream, then note when each position line arrives."""
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
    writer.write(f"GET {path}/live HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n".encode())
    status = await reader.readline()
    if b" 200 " not in status:
        raise BenchError(f"stream answered {status!r}")
    tally.open_streams += 1
    position = False
    try:
        while line := await reader.readline():
            if line.startswith(b"event: "):
                position = line == b"event: position\n"
                if not position:
                    connected.set()
            elif position and line.startswith(b"data: "):
                start, end = line.find(b'"lat":'), line.find(b',"heading"')
                if 0 <= start < end:
                    tally.arrivals.append((line[start:end].decode(), time.perf_counter()))
    finally:
        tally.open_streams -= 1
        tally.ended += 1
        writer.close()


async def connect_all(port: int, paths: list[str], tally: Tally) -> list[asyncio.Task[None]]:
    tasks: list[asyncio.Task[None]] = []
    for start in range(0, len(paths), CONNECT_AT_ONCE):
        firsts = []
        for path in paths[start : start + CONNECT_AT_ONCE]:
            first = asyncio.Event()
            tasks.append(asyncio.create_task(viewer(port, path, tally, first)))
            firsts.append(first.wait())
        await asyncio.wait_for(asyncio.gather(*firsts), TIMEOUT_S)
    return tasks


async def drive(url: str, token: str, index: int, args: argparse.Namespace, tally: Tally) -> None:
    """One driver: a ping every drivers/rate seconds, moving east."""
    interval = args.drivers / args.rate
    await asyncio.sleep(index * interval / args.drivers)  # spread the drivers over the interval
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(url, headers=headers, timeout=timeout) as session:
        began, n = time.perf_counter(), 0
        while time.perf_counter() - began < args.duration:
            n += 1
            lat, lon = latlon(n * STEP_M, index * 300.0)
            at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            body = {"pings": [{"lat": lat, "lon": lon, "recorded_at": at, "accuracy_m": 5}]}
            tally.sent[position_key(lat, lon)] = time.perf_counter()
            async with session.post("/v1/driver/locations", json=body) as r:
                if r.status != 202:
                    raise BenchError(f"locations answered {r.status}: {await r.text()}")
            await asyncio.sleep(max(0.0, began + n * interval - time.perf_counter()))


def position_key(lat: float, lon: float) -> str:
    """How the position event writes the place (floats survive the round trip exactly)."""
    return f'"lat":{json.dumps(lat)},"lon":{json.dumps(lon)}'


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(
    url: str, api_key: str, serve_pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(url, headers=headers) as session:
        drivers = []
        for d in range(args.drivers):
            planned = await planned_driver(
                session, f"V{d}", [(2000.0, d * 300.0)], [(0.0, d * 300.0), (2000.0, d * 300.0)]
            )
            async with session.get(f"/v1/shipments/{planned.shipment_ids[0]}") as r:
                link = (await r.json())["tracking_url"].removeprefix(url)
            drivers.append((planned.token, link))
    tally = Tally()
    for d, (token, _) in enumerate(drivers):  # a first position: the routes start
        await drive_once(url, token, d)
    rss_before = rss_mb(serve_pid)
    paths = [drivers[i % len(drivers)][1] for i in range(args.viewers)]
    began = time.perf_counter()
    tasks = await connect_all(port, paths, tally)
    connect_s = time.perf_counter() - began
    rss_connected = rss_mb(serve_pid)
    cpu_before, began = cpu_seconds(serve_pid), time.perf_counter()
    own_before = time.process_time()
    await asyncio.gather(*(drive(url, t, d, args, tally) for d, (t, _) in enumerate(drivers)))
    await asyncio.sleep(2.0)  # the last pings' events arrive
    elapsed = time.perf_counter() - began
    cpu = (cpu_seconds(serve_pid) - cpu_before) / elapsed
    client_cpu = (time.process_time() - own_before) / elapsed
    held, rss_end = tally.open_streams, rss_mb(serve_pid)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    waits = [arrived - tally.sent[key] for key, arrived in tally.arrivals if key in tally.sent]
    return {
        "viewers": args.viewers, "drivers": args.drivers, "rate": args.rate,
        "duration_s": args.duration, "connect_s": connect_s, "held": held,
        "pings": len(tally.sent), "deliveries": len(waits),
        "expected_deliveries": len(tally.sent) * args.viewers // args.drivers,
        "p50_ms": percentile(waits, 0.5) * 1000, "p99_ms": percentile(waits, 0.99) * 1000,
        "max_ms": max(waits, default=float("nan")) * 1000,
        "rss_mb_before": rss_before, "rss_mb_connected": rss_connected, "rss_mb_end": rss_end,
        "serve_cpu": cpu, "client_cpu": client_cpu,
        "events_per_s": len(tally.sent) * args.viewers / args.drivers / args.duration,
    }  # fmt: skip


async def drive_once(url: str, token: str, index: int) -> None:
    lat, lon = latlon(0.0, index * 300.0)
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(url, headers=headers) as session:
        body = {"pings": [{"lat": lat, "lon": lon, "recorded_at": at, "accuracy_m": 5}]}
        async with session.post("/v1/driver/locations", json=body) as r:
            if r.status != 202:
                raise BenchError(f"locations answered {r.status}")


def summary(found: dict[str, Any]) -> list[dict[str, Any]]:
    viewers = found["viewers"]
    return [
        {"figure": f"streams held ({viewers} opened)", "value": found["held"], "unit": "streams",
         "note": f"connected in {found['connect_s']:.1f} s", "goal": "5,000",
         "met": found["held"] >= 5000 if viewers >= 5000 else None},  # --quick opens fewer
        {"figure": "ping -> open page", "value": found["deliveries"], "unit": "events",
         "p50_ms": round(found["p50_ms"], 1), "p99_ms": round(found["p99_ms"], 1),
         "note": f"{found['rate']} pings/s to {viewers} viewers, "
                 f"{found['deliveries']}/{found['expected_deliveries']} delivered",
         "goal": "p99 <= 1000 ms", "met": found["p99_ms"] <= 1000},
        {"figure": "serve RSS with the viewers", "value": round(found["rss_mb_connected"]),
         "unit": "MB", "note": f"{found['rss_mb_before']:.0f} MB before they connected",
         "goal": "<= 300 MB", "met": found["rss_mb_connected"] <= 300},
        {"figure": "serve CPU while pinging", "value": f"{found['serve_cpu']:.0%}",
         "unit": "of a core", "note": f"{found['events_per_s']:,.0f} events/s; the viewers "
                                     f"(bench process) {found['client_cpu']:.0%}"},
    ]  # fmt: skip


def report(found: dict[str, Any]) -> None:
    print(
        f"sse viewers: {found['viewers']} viewers of {found['drivers']} drivers' active stops, "
        f"{found['rate']} pings/s for {found['duration_s']} s (load {os.getloadavg()[0]:.1f})"
    )
    print(f"  connected in:        {found['connect_s']:.1f} s; held to the end: {found['held']}")
    print(
        f"  ping -> page ms:     p50 {found['p50_ms']:.0f}, p99 {found['p99_ms']:.0f}, "
        f"max {found['max_ms']:.0f}  ({found['deliveries']}/{found['expected_deliveries']} events)"
    )
    print(
        f"  serve RSS MB:        {found['rss_mb_before']:.0f} before, "
        f"{found['rss_mb_connected']:.0f} connected, {found['rss_mb_end']:.0f} at the end"
    )
    print(
        f"  CPU while pinging:   serve {found['serve_cpu']:.0%}, the viewers (this process) "
        f"{found['client_cpu']:.0%} of one core; {found['events_per_s']:,.0f} events/s"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # serve inherits it
    if args.viewers + 200 > hard:
        raise BenchError(f"{args.viewers} viewers need more than {hard} open files")
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sse-bench-")))
        children = Children(directory)
        stack.callback(children.stop_all)
        redis_url = stack.enter_context(EmbeddedRedis())
        url = f"http://{HOST}:{find_free_port()}"
        env = {
            **os.environ,
            "LASTMILE_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'bench.db'}",
            "LASTMILE_REDIS_URL": redis_url,
            "LASTMILE_PUBLIC_URL": url,
            "LASTMILE_DEV": "1",
            "LASTMILE_LOG_LEVEL": "WARNING",
            "LASTMILE_PROOF_STORAGE": str(directory / "proofs"),
        }
        run_lastmile(["migrate"], env)
        api_key = json.loads(run_lastmile(["tenants", "create", "bench"], env))["api_key"]
        serve = children.start(
            "serve", [lastmile_executable(), "serve", "--port", url.rsplit(":", 1)[1]], env
        )
        wait_healthy(children, "serve", serve, f"{url}/readyz")
        return asyncio.run(measure(url, api_key, serve.pid, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=5000)
    parser.add_argument("--drivers", type=int, default=10)
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        help="pings/s, all drivers together (default: each "
        "driver every 5 s, the driver app's batch interval)",
    )
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="1,000 viewers, 10 pings/s, 15 s")
    parser.add_argument("--json", type=Path, help="write the figures here (benchmarks/bench.py)")
    args = parser.parse_args()
    if args.quick:
        # a fifth of the viewers, five times the pings: the same 1,000 events/s
        args.viewers, args.duration, args.rate = min(args.viewers, 1000), 15.0, 10.0
    try:
        found = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if args.json:
            write_json(args.json, {"error": str(exc)})
        sys.exit(1)
    report(found)
    if args.json:
        write_json(args.json, {**found, "summary": summary(found)})


if __name__ == "__main__":
    main()
