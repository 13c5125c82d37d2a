"""Carrier-webhook ingest throughput: the gateway against a bare aiohttp handler, same client.

    uv run python benchmarks/ingest.py [--duration 10] [--connections 32]
                                       [--database sqlite|postgresql|both]

Starts an embedded Redis, a bare aiohttp server (``benchmarks/bare_server.py``) and one
``lastmile serve`` process per database (a fresh SQLite file; PostgreSQL from
``$LASTMILE_BENCH_POSTGRES_URL`` or a throwaway server from ``tests/services.py``), sends the
same pre-signed FedEx and UPS webhooks to each with ``wrk`` (or ``benchmarks/loadgen.py`` when
wrk is missing), prints a table, and checks the database against the 2xx answers.
Only loopback addresses are used; every step has a timeout; every child is stopped at the end.
See benchmarks/README.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

import sqlalchemy as sa

from gateway.platform.db import create_engine
from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port, parent_death_preexec
from gateway.shipments.tables import events, raw_payloads, shipments
from webhooks.registry import CARRIERS, auth_from_config
from webhooks.signing import sign

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = BENCH_DIR.parent
FIXTURES: Final = REPO_ROOT / "tests" / "fixtures" / "carriers"
LUA_SCRIPT: Final = BENCH_DIR / "ingest.lua"
LOADGEN: Final = BENCH_DIR / "loadgen.py"
BARE_SERVER: Final = BENCH_DIR / "bare_server.py"
POSTGRES_URL_ENV: Final = "LASTMILE_BENCH_POSTGRES_URL"
HOST: Final = "127.0.0.1"  # loopback only, always

STARTUP_TIMEOUT_S: Final = 60.0
COMMAND_TIMEOUT_S: Final = 120.0
STOP_TIMEOUT_S: Final = 20.0
HTTP_TIMEOUT_S: Final = 10.0
REQUEST_TIMEOUT_S: Final = 10  # per request, inside the load generator

# Secrets of this run's carrier connections (the same in every database, so the request file
# differs between targets only in its paths).
FEDEX_SECRET: Final = "bench-fedex-" + uuid.uuid4().hex
UPS_SECRET: Final = "bench-ups-" + uuid.uuid4().hex
AUTH_CONFIG: Final[dict[str, dict[str, str]]] = {
    "fedex": {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": FEDEX_SECRET},
    "ups": {"scheme": "static_header", "header": "credential", "secret": UPS_SECRET},
}


ProfileSummary = dict[str, list[tuple[str, float]]]
PROJECT_PACKAGES: Final = ("gateway", "webhooks", "channels")


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


# ------------------------------------------------------------------------------------------------
# Request generation
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Webhook:
    carrier: str
    body: bytes  # the exact bytes that were signed and are sent
    events: int


def _fixture_body(carrier: str, case: str) -> dict[str, Any]:
    fixture = json.loads((FIXTURES / carrier / f"{case}.json").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(fixture["request"]["body"])
    return body


def _compact(document: dict[str, Any]) -> bytes:
    # ensure_ascii: no raw tabs or newlines can reach the one-request-a-line file.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def generate_webhooks(per_carrier: int) -> list[Webhook]:
    """FedEx and UPS out-for-delivery pushes, alternating, each with its own tracking number."""
    fedex_base = _fixture_body("fedex", "out_for_delivery")
    ups_base = _fixture_body("ups", "out_for_delivery")
    central = timezone(timedelta(hours=-5))
    start = datetime(2026, 3, 14, 6, 0, 0, tzinfo=central)
    out: list[Webhook] = []
    for i in range(per_carrier):
        when = start + timedelta(seconds=i)

        fedex = json.loads(json.dumps(fedex_base))  # a deep copy
        tracking = f"{990_000_000_000 + i:012d}"
        package = fedex["output"]["completeTrackResults"][0]
        package["trackingNumber"] = tracking
        result = package["trackResults"][0]
        info = result["trackingNumberInfo"]
        info["trackingNumber"] = tracking
        info["trackingNumberUniqueId"] = f"2460~{tracking}~FDEG"
        result["scanEvents"][0]["date"] = when.isoformat()
        fedex["transactionId"] = str(uuid.UUID(int=i))
        out.append(Webhook("fedex", _compact(fedex), 1))

        ups = dict(ups_base)
        ups["trackingNumber"] = f"1Z8R2F61{i:010d}"
        local = when.astimezone(timezone(timedelta(hours=-4)))
        gmt = when.astimezone(UTC)
        ups["localActivityDate"] = local.strftime("%Y%m%d")
        ups["localActivityTime"] = local.strftime("%H%M%S")
        ups["gmtActivityDate"] = gmt.strftime("%Y%m%d")
        ups["gmtActivityTime"] = gmt.strftime("%H%M%S")
        out.append(Webhook("ups", _compact(ups), 1))
    return out


def auth_header(webhook: Webhook) -> tuple[str, str]:
    config = AUTH_CONFIG[webhook.carrier]
    if webhook.carrier == "fedex":
        return config["header"], sign(config["secret"].encode(), webhook.body)
    return config["header"], config["secret"]


def self_check(webhooks: Sequence[Webhook]) -> None:
    """Verify and parse a few requests with the gateway's own adapters before any load."""
    now = datetime.now(UTC)
    samples = [*webhooks[:2], *webhooks[-2:]]
    for webhook in samples:
        adapter = CARRIERS[webhook.carrier]
        auth = auth_from_config(webhook.carrier, AUTH_CONFIG[webhook.carrier])
        name, value = auth_header(webhook)
        headers = {"Content-Type": "application/json", name: value}
        adapter.verify(headers, webhook.body, auth, now=now)
        parsed = adapter.parse(webhook.body)
        if len(parsed) != webhook.events:
            raise BenchError(f"{webhook.carrier} sample parsed to {len(parsed)} events")
    if len({w.body for w in webhooks}) != len(webhooks):
        raise BenchError("generated bodies are not all distinct")


def write_request_file(path: Path, webhooks: Sequence[Webhook], paths: dict[str, str]) -> None:
    """One request a line: path, header name, header value, body, separated by tabs."""
    with path.open("w", encoding="ascii", newline="\n") as out:
        for webhook in webhooks:
            name, value = auth_header(webhook)
            body = webhook.body.decode("ascii")
            fields = (paths[webhook.carrier], name, value, body)
            if any(("\t" in f or "\n" in f) for f in fields):
                raise BenchError("a request field contains a tab or newline")
            out.write("\t".join(fields) + "\n")


# ------------------------------------------------------------------------------------------------
# Child processes
# ------------------------------------------------------------------------------------------------


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in {"localhost", "::1"}):
        raise BenchError(f"refusing to contact {host!r}: loopback addresses only")


def http_json(
    method: str, url: str, payload: object | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    _require_loopback(url)
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - loopback http only (checked above)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - loopback http only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode("utf-8", "replace")


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    _require_loopback(url)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - loopback http only
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class Children:
    """Every process the benchmark starts; :meth:`stop_all` (in a ``finally``) ends them."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self._log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # noqa: S603 - fixed argv built here, no shell
            list(argv),
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=parent_death_preexec(signal.SIGTERM),  # no orphans if we are killed
        )
        self._procs.append((name, proc, log))
        return proc

    def log_tail(self, name: str, limit: int = 3000) -> str:
        try:
            return (self._log_dir / f"{name}.log").read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, proc: subprocess.Popen[bytes]) -> int | None:
        """SIGTERM (aiohttp's graceful exit: queued ingest commits finish), then SIGKILL."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.returncode

    def stop_all(self) -> None:
        for _name, proc, log in reversed(self._procs):
            with contextlib.suppress(Exception):
                self.stop(proc)
            log.close()
        self._procs.clear()


def wait_healthy(children: Children, name: str, proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{children.log_tail(name)}")
        with contextlib.suppress(OSError, ValueError):
            status, _ = http_json("GET", url)
            if status == 200:
                return
        time.sleep(0.1)
    raise BenchError(
        f"{name} not healthy within {STARTUP_TIMEOUT_S:.0f}s:\n{children.log_tail(name)}"
    )


def lastmile_executable() -> str:
    beside = Path(sys.executable).parent / "lastmile"
    if beside.is_file():
        return str(beside)
    found = shutil.which("lastmile")
    if found is None:
        raise BenchError("`lastmile` is not installed: run this with `uv run python ...`")
    return found


def run_lastmile(args: Sequence[str], env: dict[str, str]) -> str:
    argv = [lastmile_executable(), *args]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`lastmile {' '.join(args)}` timed out") from exc
    if done.returncode != 0:
        raise BenchError(
            f"`lastmile {' '.join(args)}` failed ({done.returncode}):\n"
            + done.stderr.decode("utf-8", "replace")[-3000:]
        )
    return done.stdout.decode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and all its threads (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------------------------
# Load
# ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    requests: int
    non2xx: int
    socket_errors: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float = 0.0
    client_cpu_pct: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx


@dataclass(frozen=True, slots=True)
class Loader:
    kind: str  # "wrk" or "python"
    wrk: str | None
    connections: int

    def run(
        self, base_url: str, request_file: Path, *, duration_s: int, offset: int, server_pid: int
    ) -> LoadResult:
        _require_loopback(base_url)
        if self.wrk is not None:
            argv = [
                self.wrk, "-t1", f"-c{self.connections}", f"-d{duration_s}s", "--latency",
                f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(LUA_SCRIPT), base_url,
                "--", str(request_file), str(offset),
            ]  # fmt: skip
        else:
            argv = [
                sys.executable, str(LOADGEN), "--base-url", base_url,
                "--requests-file", str(request_file), "--connections", str(self.connections),
                "--duration", str(duration_s), "--offset", str(offset),
                "--timeout", str(REQUEST_TIMEOUT_S),
            ]  # fmt: skip
        server_before, client_before = cpu_seconds(server_pid), children_cpu_seconds()
        wall = time.monotonic()
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=duration_s + 60,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{self.kind} load generator timed out") from exc
        wall = time.monotonic() - wall
        server_cpu = cpu_seconds(server_pid) - server_before
        client_cpu = children_cpu_seconds() - client_before
        stdout = done.stdout.decode("utf-8", "replace")
        if done.returncode != 0:
            raise BenchError(
                f"{self.kind} failed ({done.returncode}):\n{stdout[-2000:]}"
                + done.stderr.decode("utf-8", "replace")[-2000:]
            )
        line = next(
            (ln for ln in reversed(stdout.splitlines()) if ln.startswith(("BENCH_JSON ", "{"))),
            None,
        )
        if line is None:
            raise BenchError(f"no result line from {self.kind}:\n{stdout[-2000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        result = LoadResult(
            requests=int(data["requests"]),
            non2xx=int(data["non2xx"]),
            socket_errors=int(data["socket_errors"]),
            duration_s=float(data["duration_s"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
        )
        # Over the load's own wall time (the process also starts, reads the file and exits).
        result.server_cpu_pct = 100 * server_cpu / max(result.duration_s, 1e-9)
        result.client_cpu_pct = 100 * client_cpu / max(wall, 1e-9)
        return result


def pick_loader(choice: str, connections: int) -> Loader:
    wrk = shutil.which("wrk")
    if choice == "wrk" and wrk is None:
        raise BenchError("wrk is not on PATH (apt-get install -y wrk), or use --loader python")
    if choice == "python" or wrk is None:
        return Loader("python", None, connections)
    return Loader("wrk", wrk, connections)


# ------------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    name: str
    result: LoadResult
    events_per_request: float
    db: dict[str, int] = field(default_factory=dict)
    answered_2xx: int = 0  # smoke + warm-up + measured
    in_flight_slack: int = 0
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

    def smoke(self, base_url: str, paths: dict[str, str]) -> int:
        """Send the first request of each carrier once; each must be accepted (202)."""
        for webhook in self.webhooks[:2]:
            name, value = auth_header(webhook)
            url = base_url + paths[webhook.carrier]
            status = post_raw(url, webhook.body, {"Content-Type": "application/json", name: value})
            if status != 202:
                raise BenchError(f"smoke request to {url} answered {status}, not 202")
        return 2

    def load(
        self, name: str, base_url: str, paths: dict[str, str], request_file: Path, pid: int
    ) -> Outcome:
        """Smoke requests, warm-up, then the measured run, which is recorded and returned."""
        offset = answered = self.smoke(base_url, paths)
        if self.args.warmup > 0:
            warm = self.loader.run(
                base_url, request_file, duration_s=self.args.warmup, offset=offset, server_pid=pid
            )
            # Skip what may still have been in flight when wrk stopped counting, so that the
            # measured run sends no repeats before the cycle wraps.
            offset += warm.requests + self.loader.connections
            answered += warm.ok
        profiler = self._start_profiler(name, pid)
        try:
            result = self.loader.run(
                base_url, request_file, duration_s=self.args.duration, offset=offset, server_pid=pid
            )
        finally:
            profile = self._finish_profiler(profiler)
        answered += result.ok
        outcome = Outcome(name, result, self.events_per_request, profile=profile)
        outcome.answered_2xx = answered
        self.outcomes.append(outcome)
        return outcome

    # -- py-spy (optional) ------------------------------------------------------------------

    def _start_profiler(self, name: str, pid: int) -> tuple[subprocess.Popen[bytes], Path] | None:
        if not self.args.py_spy or name.startswith("bare"):
            return None
        py_spy = shutil.which("py-spy") or os.environ.get("PY_SPY")
        if not py_spy:
            print("  (py-spy not found on PATH or $PY_SPY: no profile)", file=sys.stderr)
            return None
        out = Path(self.args.py_spy) / f"{name.replace(' ', '-')}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            py_spy, "record", "--pid", str(pid), "--duration", str(self.args.duration),
            "--rate", "200", "--format", "raw", "--threads", "--nonblocking", "--output", str(out),
        ]  # fmt: skip
        return self.children.start(f"py-spy-{pid}", argv, dict(os.environ)), out

    def _finish_profiler(
        self, profiler: tuple[subprocess.Popen[bytes], Path] | None
    ) -> ProfileSummary:
        if profiler is None:
            return {}
        proc, out = profiler
        try:
            proc.wait(timeout=STOP_TIMEOUT_S + 10)
        except subprocess.TimeoutExpired:
            self.children.stop(proc)
        return summarize_profile(out)


def summarize_profile(path: Path, top: int = 12) -> ProfileSummary:
    """From py-spy's raw (collapsed) stacks, as % of all samples: the functions with the most
    self time, and the project's own functions with the most inclusive time."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        self_time[frames[-1][0]] += count
        for name in {name for name, ours in frames if ours}:
            inclusive[name] += count
    if not total:
        return {}
    return {
        "self time": [(name, 100 * n / total) for name, n in self_time.most_common(top)],
        "inclusive time, project code": [
            (name, 100 * n / total) for name, n in inclusive.most_common(top)
        ],
    }


def _frame_name(frame: str) -> tuple[str, bool]:
    """``func (/path/pkg/mod.py:12)`` -> (``func (pkg/mod.py)``, whether it is project code)."""
    func, _, where = frame.partition(" (")
    path = Path(where.split(":", 1)[0])  # py-spy shortens it to the sys.path-relative name
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            path = path.relative_to(REPO_ROOT)
    ours = not path.is_absolute() and bool(path.parts) and path.parts[0] in PROJECT_PACKAGES
    return f"{func} ({path if ours else '/'.join(path.parts[-2:])})", ours


def run_bare(run: Run) -> None:
    port = find_free_port(HOST)
    env = dict(os.environ)
    proc = run.children.start(
        "bare", [sys.executable, str(BARE_SERVER), "--host", HOST, "--port", str(port)], env
    )
    base_url = f"http://{HOST}:{port}"
    wait_healthy(run.children, "bare", proc, base_url + "/healthz")
    paths = {"fedex": "/hooks/fedex/bare", "ups": "/hooks/ups/bare"}
    request_file = run.workdir / "requests-bare.tsv"
    write_request_file(request_file, run.webhooks, paths)
    print(f"- bare aiohttp handler on {base_url}", flush=True)
    run.load("bare aiohttp", base_url, paths, request_file, proc.pid)
    run.children.stop(proc)


def run_gateway(run: Run, label: str, database_url: str) -> None:
    port = find_free_port(HOST)
    base_url = f"http://{HOST}:{port}"
    env = dict(os.environ)
    env.update(
        LASTMILE_DATABASE_URL=database_url,
        LASTMILE_REDIS_URL=run.redis_url,
        LASTMILE_LOG_LEVEL="WARNING",
        LASTMILE_PUBLIC_URL=base_url,
    )
    run_lastmile(["migrate"], env)
    tenant = json.loads(run_lastmile(["tenants", "create", "bench"], env).strip().splitlines()[-1])
    name = f"gateway-{label}"
    proc = run.children.start(
        name, [lastmile_executable(), "serve", "--host", HOST, "--port", str(port)], env
    )
    wait_healthy(run.children, name, proc, base_url + "/healthz")

    paths: dict[str, str] = {}
    for carrier, auth in AUTH_CONFIG.items():
        status, body = http_json(
            "POST",
            base_url + "/v1/carrier-connections",
            {"carrier": carrier, "auth": auth},
            {"Authorization": f"Bearer {tenant['api_key']}"},
        )
        if status != 201:
            raise BenchError(f"creating the {carrier} connection answered {status}: {body}")
        paths[carrier] = urlsplit(body["webhook_url"]).path
    request_file = run.workdir / f"requests-{label}.tsv"
    write_request_file(request_file, run.webhooks, paths)

    print(f"- gateway ({label}) on {base_url}", flush=True)
    outcome = run.load(f"gateway {label}", base_url, paths, request_file, proc.pid)
    outcome.metrics = scrape_metrics(base_url + "/metrics")
    code = run.children.stop(proc)  # graceful: queued ingest commits finish first
    if code not in (0, -signal.SIGTERM):
        print(f"  gateway exited with {code}:\n{run.children.log_tail(name)}", file=sys.stderr)

    outcome.db = asyncio.run(count_rows(database_url, tenant["tenant_id"]))
    runs = 2 if run.args.warmup > 0 else 1
    outcome.in_flight_slack = runs * run.loader.connections


def scrape_metrics(url: str) -> dict[str, float]:
    """The gateway's Prometheus counters that explain its rate (whole life of the process)."""
    _require_loopback(url)
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
            with contextlib.suppress(ValueError):
                found[wanted[name]] = float(value)
    return found


async def count_rows(database_url: str, tenant_id: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:

            async def count(query: sa.Select[tuple[int]]) -> int:
                return int((await conn.execute(query)).scalar_one())

            return {
                "raw_payloads": await count(
                    sa.select(sa.func.count())
                    .select_from(raw_payloads)
                    .where(raw_payloads.c.tenant_id == tenant_id)
                ),
                "events": await count(
                    sa.select(sa.func.count())
                    .select_from(events.join(shipments, events.c.shipment_id == shipments.c.id))
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


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        _require_loopback(external.replace("postgresql+asyncpg://", "http://", 1))
        yield external
        return
    if str(REPO_ROOT) not in sys.path:  # `python benchmarks/ingest.py` puts benchmarks/ first
        sys.path.insert(0, str(REPO_ROOT))
    from tests.services import start_postgres

    with start_postgres() as url:
        yield url


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def print_report(run: Run) -> None:
    bare = next((o for o in run.outcomes if o.name.startswith("bare")), None)
    header = (
        f"{'target':<20} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>8} {'sock err':>8} {'srv CPU':>8} {'cli CPU':>8} {'vs bare':>8}"
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
        ok_rps = r.ok / r.duration_s if r.duration_s else 0.0
        ratio = f"{100 * r.rps / bare.result.rps:.0f}%" if bare and bare.result.rps else "-"
        print(
            f"{o.name:<20} {r.rps:>8.0f} {ok_rps * o.events_per_request:>9.0f} "
            f"{r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.non2xx:>8d} {r.socket_errors:>8d} "
            f"{r.server_cpu_pct:>7.0f}% {r.client_cpu_pct:>7.0f}% {ratio:>8}"
        )
    for o in run.outcomes:
        if not o.db:
            continue
        raw, stored = o.db["raw_payloads"], o.db["events"]
        extra = raw - o.answered_2xx
        raw_ok = 0 <= extra <= o.in_flight_slack
        # Events stored = distinct bodies sent: every body sent once the cycle has wrapped.
        # The bounds allow for requests the client sent but did not count, and for the ones
        # skipped after the warm-up (they may have been in flight when it stopped).
        distinct = len(run.webhooks)
        events_ok = (
            min(o.answered_2xx, distinct) - o.in_flight_slack <= stored <= min(raw, distinct)
        )
        print(
            f"\n{o.name}: {o.answered_2xx} requests answered 2xx (incl. smoke and warm-up); "
            f"{raw} raw payloads stored ({extra:+d} finished after the client stopped counting, "
            f"<= {o.in_flight_slack} expected) {'OK' if raw_ok else 'MISMATCH'}; "
            f"{stored} events stored in {o.db['shipments']} shipments, "
            f"{raw - stored} repeats collapsed as duplicates "
            f"(cycle of {len(run.webhooks)} distinct bodies) {'OK' if events_ok else 'MISMATCH'}"
        )
    for o in run.outcomes:
        m = o.metrics
        if m.get("batches"):
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
    if bare:
        sqlite = next((o for o in run.outcomes if o.name == "gateway sqlite"), None)
        if sqlite and bare.result.rps:
            share = sqlite.result.rps / bare.result.rps
            verdict = "meets" if share >= 0.5 else "misses"
            print(
                f"\ntarget: gateway on SQLite >= 50% of the bare handler: "
                f"{100 * share:.0f}% ({verdict})"
            )


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--requests", type=int, default=5000, help="distinct requests per carrier (FedEx, UPS)"
    )
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="profile each gateway run with py-spy (if installed); raw stacks go to DIR",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1..600 and --warmup 0..60 seconds")
    if not 1 <= args.connections <= 1000 or not 1 <= args.requests <= 1_000_000:
        parser.error("--connections must be 1..1000 and --requests 1..1000000")
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
            if args.database in ("sqlite", "both"):
                run_gateway(run, "sqlite", f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
            if args.database in ("postgresql", "both"):
                with postgres_url() as url:
                    run_gateway(run, "postgresql", url)
        except BenchError as exc:
            print_report(run)
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1
        print_report(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
