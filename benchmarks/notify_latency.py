"""Event-in → provider-call-out latency of customer notifications, at a steady rate.

    uv run python benchmarks/notify_latency.py [--rate 500] [--duration 10]
                                               [--database sqlite|postgresql] [--workers 1]

Real processes: an embedded Redis, one `lastmile serve`, `--workers` `lastmile worker`s
(LASTMILE_CHANNELS=twilio, the real Twilio SDK) and the fake Twilio (tests/fakes/fake_twilio.py)
in its own process, all on loopback. One store with a rule "out_for_delivery → SMS", quiet hours
off and no collapse window (a collapse window of W seconds adds W to every message by design).
Each parcel is registered beforehand with its own phone number; then UPS "out for delivery"
webhooks are POSTed open-loop at `--rate` per second for `--duration` seconds. The latency of a
parcel is from the moment its webhook POST starts to the moment the fake Twilio receives its SMS.
Prints p50/p90/p99/max, the ingest answer times, how many SMS arrived, each process's CPU and
(PostgreSQL) what the database backends were waiting on. 20 warm-up parcels go first and are left
out. Every step is bounded: at most 20,000 events, timeouts on every request and on the drain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import sqlalchemy as sa

BENCH_DIR: Final = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from ingest import (  # noqa: E402 - the sibling benchmark's process helpers
    HOST,
    BenchError,
    Children,
    cpu_seconds,
    lastmile_executable,
    run_lastmile,
    wait_healthy,
)

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port  # noqa: E402

MAGIC_SUFFIXES: Final = frozenset({"0429", "0500", "1211", "1610", "1614"})  # fake failures
UPS_CREDENTIAL: Final = "bench-ups-credential"
MAX_EVENTS: Final = 20_000
WARMUP_EVENTS: Final = 20  # sent first at 10/s and left out of the figures
DRAIN_TIMEOUT_S: Final = 60.0
REQUEST_TIMEOUT_S: Final = 10.0


# ------------------------------------------------------------------------------------------------
# The fake Twilio, run in its own process: `notify_latency.py --serve-fake-twilio PORT`
# ------------------------------------------------------------------------------------------------


def serve_fake_twilio(port: int) -> None:
    from aiohttp import web

    from tests.fakes.fake_twilio import FakeTwilio

    fake = FakeTwilio()
    arrivals: dict[str, float] = {}

    @web.middleware
    async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.time()
        if request.method == "POST":
            to = str((await request.post()).get("To", ""))
            arrivals.setdefault(to, arrived)
        response: web.StreamResponse = await handler(request)
        return response

    async def dump(_request: web.Request) -> web.Response:
        return web.json_response({"arrivals": arrivals, "accepted": len(fake.requests)})

    app = fake.app()
    app.middlewares.append(stamp)
    app.router.add_get("/bench/arrivals", dump)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# ------------------------------------------------------------------------------------------------
# Setup: database, store, rule, parcels
# ------------------------------------------------------------------------------------------------


def phones(count: int) -> list[str]:
    out, i = [], 0
    while len(out) < count:
        number = f"+1555{i:07d}"
        i += 1
        if number[-4:] not in MAGIC_SUFFIXES:
            out.append(number)
    return out


async def prepare(database_url: str, count: int) -> tuple[str, str, list[tuple[str, str]]]:
    """(api key, webhook path, [(tracking number, phone)]) for a fresh store."""
    from gateway.carriers import store as connections
    from gateway.notifications import store_config as notification_config
    from gateway.notifications.rules import ChannelKind, Rule, TriggerEvent
    from gateway.notifications.settings import NotificationSettings
    from gateway.platform.db import create_engine
    from gateway.shipments.store import Registration, register
    from gateway.tenants import store as tenants
    from webhooks.base import AuthScheme, ConnectionAuth

    engine = create_engine(database_url)
    parcels = [(f"1ZBENCH{i:011d}", phone) for i, phone in enumerate(phones(count))]
    async with engine.begin() as conn:
        tenant_id, api_key = await tenants.create_tenant(conn, "Bench Books")
        auth = ConnectionAuth(AuthScheme.STATIC_HEADER, "credential", (UPS_CREDENTIAL.encode(),))
        connection_id = await connections.create_connection(conn, tenant_id, "ups", auth)
        quick = NotificationSettings(quiet_hours=None, collapse_window_s=0)
        await notification_config.put_settings(conn, tenant_id, quick)
        rule = Rule("", "bench", frozenset({TriggerEvent.OUT_FOR_DELIVERY}), (ChannelKind.SMS,))
        await notification_config.create_rule(conn, tenant_id, rule)
    for start in range(0, count, 500):
        async with engine.begin() as conn:
            for tracking, phone in parcels[start : start + 500]:
                recipient = {"name": "Sam", "phone": phone, "timezone": "America/New_York"}
                reg = Registration(tracking, "ups", None, recipient, None, None)
                await register(conn, tenant_id, reg)
    await engine.dispose()
    return api_key, f"/hooks/ups/{connection_id}", parcels


def ups_event(tracking_number: str) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "trackingNumber": tracking_number,
        "localActivityDate": now.strftime("%Y%m%d"),
        "localActivityTime": now.strftime("%H%M%S"),
        "activityLocation": {"city": "NEW YORK", "stateProvince": "NY", "country": "US"},
        "activityStatus": {
            "type": "I",
            "code": "OT",
            "description": "Out For Delivery Today",
            "descriptionCode": "021",
        },
        "scheduledDeliveryDate": now.strftime("%Y%m%d"),
        "gmtActivityDate": now.strftime("%Y%m%d"),
        "gmtActivityTime": now.strftime("%H%M%S"),
        "gmtOffset": "+00:00",
    }
    return json.dumps(body, separators=(",", ":")).encode()


# ------------------------------------------------------------------------------------------------
# Load and measurement
# ------------------------------------------------------------------------------------------------


async def send_steadily(
    base_url: str, path: str, parcels: list[tuple[str, str]], rate: float
) -> tuple[dict[str, float], list[float], int]:
    """Open loop: parcel i is posted at start + i / rate. Returns sent-at by phone, answer
    times and the number of failed posts."""
    sent_at: dict[str, float] = {}
    answers: list[float] = []
    errors = 0
    headers = {"credential": UPS_CREDENTIAL, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(tracking: str, phone: str) -> None:
            nonlocal errors
            body = ups_event(tracking)
            began = time.time()
            sent_at[phone] = began
            try:
                async with session.post(base_url + path, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 202:
                        errors += 1
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
            answers.append(time.time() - began)

        start = time.monotonic()
        tasks = []
        for i, (tracking, phone) in enumerate(parcels):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(tracking, phone)))
        await asyncio.gather(*tasks)
    return sent_at, answers, errors


async def collect(fake_url: str, expected: int) -> dict[str, float]:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            async with session.get(f"{fake_url}/bench/arrivals") as resp:
                arrivals: dict[str, float] = (await resp.json())["arrivals"]
            if len(arrivals) >= expected or time.monotonic() > deadline:
                return arrivals
            await asyncio.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(sent_at: dict[str, float], arrivals: dict[str, float], answers: list[float]) -> None:
    arrivals = {phone: at for phone, at in arrivals.items() if phone in sent_at}
    latencies = [(arrivals[p] - t) * 1000 for p, t in sent_at.items() if p in arrivals]
    print(f"  events posted:        {len(sent_at)}")
    print(f"  SMS at fake Twilio:   {len(arrivals)}  (missing {len(sent_at) - len(latencies)})")
    if answers:
        ms = [a * 1000 for a in answers]
        p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
        print(f"  webhook 202 answer:   p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    if latencies:
        print(
            "  event-in → SMS-out:   "
            f"p50 {percentile(latencies, 0.5):.1f} ms  p90 {percentile(latencies, 0.9):.1f} ms  "
            f"p99 {percentile(latencies, 0.99):.1f} ms  max {max(latencies):.1f} ms"
        )


# ------------------------------------------------------------------------------------------------
# Orchestration
# ------------------------------------------------------------------------------------------------


class PgWaits:
    """Samples what PostgreSQL backends wait on while the load runs (its own thread and loop)."""

    def __init__(self, database_url: str) -> None:
        self.samples: Counter[str] = Counter()
        self._url = database_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._loop()), daemon=True)

    async def _loop(self) -> None:
        from gateway.platform.db import create_engine

        query = sa.text(
            "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ' (' "
            "|| state || ')' FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
        )
        engine = create_engine(self._url, pool_size=1)
        while not self._stop.is_set():
            async with engine.connect() as conn:
                self.samples.update((await conn.execute(query)).scalars())
            await asyncio.sleep(0.05)
        await engine.dispose()

    def __enter__(self) -> PgWaits:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def report(self) -> None:
        total = sum(self.samples.values()) or 1
        top = ", ".join(f"{name} {n / total:.0%}" for name, n in self.samples.most_common(4))
        print(f"  PostgreSQL backends:  {top}")


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'bench.db'}"
        return
    from tests.services import start_postgres

    with start_postgres() as url:
        yield url


def child_env(
    args: argparse.Namespace, database_url: str, redis_url: str, urls: Urls
) -> dict[str, str]:
    return {
        **os.environ,
        "LASTMILE_DATABASE_URL": database_url,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_PUBLIC_URL": urls.gateway,
        "LASTMILE_DEV": "1",
        "LASTMILE_LOG_LEVEL": "INFO" if args.log_dir else "WARNING",
        "LASTMILE_CHANNELS": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "twilio-test-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "LASTMILE_TWILIO_BASE_URL": urls.fake,
        "PYTHONPATH": str(BENCH_DIR.parent),
    }


@dataclass(frozen=True, slots=True)
class Urls:
    gateway: str
    fake: str

    @classmethod
    def free(cls) -> Urls:
        return cls(f"http://{HOST}:{find_free_port()}", f"http://{HOST}:{find_free_port()}")

    @staticmethod
    def port(url: str) -> str:
        return url.rsplit(":", 1)[1]


def start_processes(
    args: argparse.Namespace, children: Children, env: dict[str, str], urls: Urls
) -> dict[str, subprocess.Popen[bytes]]:
    """The fake Twilio, one `lastmile serve` and the workers, healthy (the schema migrated)."""
    fake = children.start(
        "fake-twilio", [sys.executable, __file__, "--serve-fake-twilio", urls.port(urls.fake)], env
    )
    serve = children.start(
        "serve", [lastmile_executable(), "serve", "--port", urls.port(urls.gateway)], env
    )
    procs = {"serve": serve, "fake-twilio": fake}
    for n in range(args.workers):
        procs[f"worker{n}"] = children.start(f"worker{n}", [lastmile_executable(), "worker"], env)
    wait_healthy(children, "serve", serve, f"{urls.gateway}/readyz")
    wait_healthy(children, "fake-twilio", fake, f"{urls.fake}/bench/arrivals")
    time.sleep(1.0)  # workers connect to Redis
    return procs


def measure(
    args: argparse.Namespace,
    procs: dict[str, subprocess.Popen[bytes]],
    urls: Urls,
    path: str,
    parcels: list[tuple[str, str]],
    database_url: str,
) -> None:
    warmup, parcels = parcels[:WARMUP_EVENTS], parcels[WARMUP_EVENTS:]
    # Cold start (the SDK's client, template compilation, locale data) is not steady state.
    asyncio.run(send_steadily(urls.gateway, path, warmup, 10.0))
    asyncio.run(collect(urls.fake, len(warmup)))
    cpu_before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    began = time.monotonic()
    waits = PgWaits(database_url) if args.database == "postgresql" else None
    with waits or contextlib.nullcontext():
        sent_at, answers, errors = asyncio.run(
            send_steadily(urls.gateway, path, parcels, args.rate)
        )
        arrivals = asyncio.run(collect(urls.fake, len(sent_at) + len(warmup)))
    elapsed = time.monotonic() - began
    if errors:
        print(f"  webhook errors:       {errors}")
    report(sent_at, arrivals, answers)
    cpu = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p in procs.items()}
    busy = ", ".join(f"{name} {seconds / elapsed:.0%}" for name, seconds in cpu.items())
    print(f"  CPU over {elapsed:.1f}s:      {busy} (of one core)")
    if waits is not None:
        waits.report()


def run(args: argparse.Namespace) -> None:
    count = min(int(args.rate * args.duration), MAX_EVENTS)
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="notify-bench-")))
        children = Children(args.log_dir or directory)
        stack.callback(children.stop_all)
        redis_url = stack.enter_context(EmbeddedRedis())
        database_url = stack.enter_context(database(args.database, directory))
        urls = Urls.free()
        env = child_env(args, database_url, redis_url, urls)
        run_lastmile(["migrate"], env)
        _, path, parcels = asyncio.run(prepare(database_url, count + WARMUP_EVENTS))
        procs = start_processes(args, children, env, urls)
        print(
            f"notify latency: {count} events at {args.rate:.0f}/s, {args.database}, "
            f"1 serve + {args.workers} worker process(es), fake Twilio"
        )
        measure(args, procs, urls, path, parcels, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="webhooks per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, choices=range(1, 9))
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs (INFO) here")
    parser.add_argument("--serve-fake-twilio", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_twilio:
        serve_fake_twilio(args.serve_fake_twilio)
        return
    try:
        run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
