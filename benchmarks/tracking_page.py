"""Customer tracking page: server time at a steady request rate, and what a phone downloads.

    uv run python benchmarks/tracking_page.py [--rate 200] [--duration 10]
                                              [--database sqlite|postgresql]

Starts an embedded Redis and one `lastmile serve` on 127.0.0.1 over a fresh SQLite file (or a
throwaway PostgreSQL), registers two UPS parcels through the real API and webhooks (the fixtures
of 1Z8R2F610373102544 moved to yesterday: one out for delivery, one delivered with proof), then
GETs each page as a phone would (gzip) on an open-loop schedule of `--rate` requests a second for
`--duration` seconds, after a 2 s warm-up at the same rate. It reports the page's own
Server-Timing and the client's send-to-last-byte latency on loopback (an upper bound of the server
time), and the page's size (HTML with its inline CSS) on the wire. Targets: p99 <= 20 ms and under
30 KB compressed. Every step has a timeout; the server and Redis are stopped at the end. Writes
benchmarks/results/tracking_page.json (git-ignored), or the file `--json` names.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port, parent_death_preexec

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
FIXTURES: Final = REPO_ROOT / "tests" / "fixtures" / "carriers" / "ups"
RESULTS: Final = REPO_ROOT / "benchmarks" / "results" / "tracking_page.json"
HOST: Final = "127.0.0.1"
SCANS: Final = (
    "departed_facility_utc_next_day",
    "late_scan_after_delivery",
    "out_for_delivery",
    "delivered_signature_and_photo",
)
FIXTURE_DELIVERY_DAY: Final = date(2026, 3, 16)
DATE_FIELDS: Final = (
    "localActivityDate",
    "gmtActivityDate",
    "actualDeliveryDate",
    "scheduledDeliveryDate",
)
BROWSER: Final = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1",
    "Accept-Encoding": "gzip, deflate, br",
    "Accept-Language": "en-US,en;q=0.9",
}
STARTUP_TIMEOUT_S: Final = 60.0
REQUEST_TIMEOUT_S: Final = 10.0
WARMUP_S: Final = 2.0
TARGET_P99_MS: Final = 20.0
TARGET_BYTES: Final = 30 * 1024


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which."""


def _lastmile() -> str:
    beside = Path(sys.executable).parent / "lastmile"
    if not beside.is_file():
        raise BenchError("`lastmile` is not installed here: run with `uv run python ...`")
    return str(beside)


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [_lastmile(), *args], env=env, capture_output=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"lastmile {args[0]} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


def _redated(case: str, tracking_number: str, shift: timedelta) -> bytes:
    """The fixture's UPS body for another parcel, its dates moved by `shift`."""
    fixture = json.loads((FIXTURES / f"{case}.json").read_text())
    body = json.loads(fixture["request"]["body"])
    body["trackingNumber"] = tracking_number
    for field in DATE_FIELDS:
        if body.get(field):
            day = datetime.strptime(body[field], "%Y%m%d").replace(tzinfo=UTC) + shift
            body[field] = day.strftime("%Y%m%d")
    return json.dumps(body, separators=(",", ":")).encode()


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, expect: int, **kwargs: Any
) -> Any:
    async with session.request(method, url, **kwargs) as response:
        if response.status != expect:
            raise BenchError(f"{method} {url} -> {response.status}: {await response.text()}")
        return await response.json()


async def make_pages(base: str, api_key: str) -> dict[str, str]:
    """{"out_for_delivery": path, "delivered": path} of two parcels fed real UPS webhooks."""
    auth = {"Authorization": f"Bearer {api_key}"}
    credential = "bench-" + os.urandom(8).hex()
    shift = timedelta(days=(datetime.now(UTC).date() - FIXTURE_DELIVERY_DAY).days - 1)
    pages = {}
    async with aiohttp.ClientSession() as session:
        connection = await _call(
            session,
            "POST",
            f"{base}/v1/carrier-connections",
            201,
            headers=auth,
            json={
                "carrier": "ups",
                "auth": {"scheme": "static_header", "header": "credential", "secret": credential},
            },
        )
        hook = connection["webhook_url"]
        for name, scans, number in (
            ("out_for_delivery", SCANS[:3], "1ZBENCH0000000001"),
            ("delivered", SCANS, "1ZBENCH0000000002"),
        ):
            shipment = await _call(
                session,
                "POST",
                f"{base}/v1/shipments",
                201,
                headers=auth,
                json={
                    "tracking_number": number,
                    "carrier": "ups",
                    "order_id": "B-" + number[-4:],
                    "recipient": {
                        "name": "Jane Doe",
                        "phone": "+15555550123",
                        "locale": "en-US",
                        "timezone": "America/New_York",
                    },
                },
            )
            for case in scans:
                await _call(
                    session,
                    "POST",
                    hook,
                    202,
                    data=_redated(case, number, shift),
                    headers={"credential": credential, "Content-Type": "application/json"},
                )
            link = await _call(
                session,
                "POST",
                f"{base}/v1/shipments/{shipment['id']}/tracking-link",
                200,
                headers=auth,
            )
            pages[name] = link["url"].removeprefix(base)
    return pages


async def page_size(base: str, path: str) -> dict[str, int]:
    """Bytes on the wire (gzip, as a browser asks) and after decompression."""
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(base + path, headers=BROWSER) as response,
    ):
        raw = await response.read()
        if response.status != 200 or response.headers.get("Content-Encoding") != "gzip":
            raise BenchError(f"{path}: {response.status}, not a gzip page")
        return {"compressed_bytes": len(raw), "html_bytes": len(gzip.decompress(raw))}


async def load(base: str, path: str, rate: float, duration_s: float) -> dict[str, float]:
    """Client latency (send to last byte) and the page's own Server-Timing, at a steady rate."""
    latencies: list[float] = []
    server_ms: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                async with session.get(base + path, headers=BROWSER) as response:
                    await response.read()
                    ok = response.status == 200
                    timing = response.headers.get("Server-Timing", "page;dur=nan")
                    server_ms.append(float(timing.rpartition("dur=")[2]))
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

        await _open_loop(one, rate, WARMUP_S)  # connections, caches, first visit: discarded
        latencies.clear()
        server_ms.clear()
        errors = 0
        elapsed = await _open_loop(one, rate, duration_s)
    latencies.sort()
    server_ms.sort()
    total = int(rate * duration_s)
    return {
        "requests": total,
        "errors": errors,
        "achieved_rps": round(total / elapsed, 1),
        "server_p50_ms": round(_pct(server_ms, 50), 2),
        "server_p99_ms": round(_pct(server_ms, 99), 2),
        "p50_ms": round(_pct(latencies, 50) * 1000, 2),
        "p90_ms": round(_pct(latencies, 90) * 1000, 2),
        "p99_ms": round(_pct(latencies, 99) * 1000, 2),
        "max_ms": round((latencies[-1] if latencies else 0) * 1000, 2),
    }


_Request = Callable[[], Coroutine[Any, Any, None]]


async def _open_loop(one: _Request, rate: float, seconds: float) -> float:
    """Request i leaves at start + i/rate whatever the earlier ones are doing; elapsed s."""
    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


async def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise BenchError(f"lastmile serve exited with {server.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise BenchError("lastmile serve not ready in time")


async def bench(
    base: str, api_key: str, args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    pages = await make_pages(base, api_key)
    report: dict[str, Any] = {"rate": args.rate, "duration_s": args.duration}
    for name, path in pages.items():
        size = await page_size(base, path)
        cpu_before = _cpu_s(server_pid)
        timing = await load(base, path, args.rate, args.duration)
        # Includes the 2 s warm-up: CPU per page is robust to a busy machine, latency is not.
        pages_served = args.rate * (args.duration + WARMUP_S)
        cpu_ms = (_cpu_s(server_pid) - cpu_before) * 1000 / pages_served
        report[name] = {**size, **timing, "server_cpu_ms_per_page": round(cpu_ms, 2)}
    report["loadavg_1m"] = os.getloadavg()[0]
    return report


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_report(report: dict[str, Any]) -> None:
    print(f"\nTracking page, {report['rate']:.0f} req/s for {report['duration_s']:.0f} s, loopback")
    print(
        f"{'page':<18}{'server p50':>11}{'server p99':>11}{'p50 ms':>8}{'p90 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'rps':>7}{'errors':>7}{'gzip B':>8}{'html B':>8}"
    )
    pages = ("out_for_delivery", "delivered")
    for name in pages:
        r = report[name]
        print(
            f"{name:<18}{r['server_p50_ms']:>11}{r['server_p99_ms']:>11}{r['p50_ms']:>8}"
            f"{r['p90_ms']:>8}{r['p99_ms']:>8}{r['max_ms']:>8}{r['achieved_rps']:>7}"
            f"{r['errors']:>7}{r['compressed_bytes']:>8}{r['html_bytes']:>8}"
        )
    print("server = the page's own Server-Timing; p50..max = client, send to last byte")
    cpu = ", ".join(f"{n} {report[n]['server_cpu_ms_per_page']} ms" for n in pages)
    print(f"server CPU per page: {cpu}; 1-minute load average {report['loadavg_1m']:.2f}")
    server = max(report[n]["server_p99_ms"] for n in pages)
    client = max(report[n]["p99_ms"] for n in pages)
    biggest = max(report[n]["compressed_bytes"] for n in pages)
    print(
        f"targets: p99 <= {TARGET_P99_MS:.0f} ms: server {server} ms "
        f"{'met' if server <= TARGET_P99_MS else 'MISSED'}, client {client} ms "
        f"{'met' if client <= TARGET_P99_MS else 'MISSED'}; "
        f"page {biggest} B < {TARGET_BYTES} B gzip: {'met' if biggest < TARGET_BYTES else 'MISSED'}"
    )


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    if str(REPO_ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first
        sys.path.insert(0, str(REPO_ROOT))
    from tests.services import start_postgres

    with start_postgres() as url:
        yield url


def run(args: argparse.Namespace, workdir: Path, redis_url: str, database_url: str) -> Any:
    """Migrate, create the store, serve, measure; the server is stopped whatever happens."""
    port = find_free_port()
    base = f"http://{HOST}:{port}"
    env = {
        **os.environ,
        "LASTMILE_DATABASE_URL": database_url,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_PUBLIC_URL": base,
        "LASTMILE_DEV": "1",
        "LASTMILE_LOG_LEVEL": "WARNING",
    }
    _run(["migrate"], env)
    api_key = json.loads(_run(["tenants", "create", "Corner Books"], env))["api_key"]
    with (workdir / "serve.log").open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [_lastmile(), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=parent_death_preexec(signal.SIGTERM),  # no orphans
        )
        try:
            asyncio.run(wait_ready(base, server))
            return asyncio.run(bench(base, api_key, args, server.pid))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="a fresh SQLite file, or a throwaway PostgreSQL (tests/services.py)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the figures go")
    args = parser.parse_args()
    if not 1 <= args.rate <= 5000 or not 1 <= args.duration <= 300:
        parser.error("--rate must be 1..5000 and --duration 1..300")
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lastmile-page-")))
        redis_url = stack.enter_context(EmbeddedRedis())
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        if args.database == "postgresql":
            database_url = stack.enter_context(_postgres())
        try:
            report = run(args, workdir, redis_url, database_url)
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    report["database"] = args.database
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
