"""The ingest benchmark's load: wrk (or the Python fallback) over a request file, as results.

Each run starts the load generator as a child process and reads back one JSON line with the
request count, errors and latency percentiles. Several generators can run at once (one per
`serve` process); :func:`combine` adds their counts.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from benchlib import BENCH_DIR, BenchError, children_cpu_seconds, cpu_seconds, require_loopback

LUA_SCRIPT: Final = BENCH_DIR / "ingest.lua"
LOADGEN: Final = BENCH_DIR / "loadgen.py"
REQUEST_TIMEOUT_S: Final = 10  # per request, inside the load generator


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

    @property
    def server_cpu_us_per_request(self) -> float:
        """Server CPU per request: steadier than req/s on a machine others share."""
        cpu_s = self.server_cpu_pct / 100 * self.duration_s
        return 1e6 * cpu_s / self.requests if self.requests else 0.0

    @property
    def ok_rps(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0


@dataclass(frozen=True, slots=True)
class Loader:
    kind: str  # "wrk" or "python"
    wrk: str | None
    connections: int

    def argv(
        self,
        base_url: str,
        request_file: Path,
        *,
        duration_s: int,
        offset: int,
        connections: int,
        delay_ms: float,
    ) -> list[str]:
        require_loopback(base_url)
        if self.wrk is not None:
            return [
                self.wrk, "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency",
                f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(LUA_SCRIPT), base_url,
                "--", str(request_file), str(offset), f"{delay_ms:.3f}",
            ]  # fmt: skip
        return [
            sys.executable, str(LOADGEN), "--base-url", base_url,
            "--requests-file", str(request_file), "--connections", str(connections),
            "--duration", str(duration_s), "--offset", str(offset),
            "--timeout", str(REQUEST_TIMEOUT_S), "--delay-ms", f"{delay_ms:.3f}",
        ]  # fmt: skip

    def run(
        self,
        base_urls: Sequence[str],
        request_file: Path,
        *,
        duration_s: int,
        offsets: Sequence[int],
        server_pids: Sequence[int],
        delay_ms: float = 0.0,
    ) -> tuple[LoadResult, list[LoadResult]]:
        """One generator per URL, all at once, the connections split between them, each from
        its own offset in the request file; with `delay_ms`, each connection pauses that long
        before each request (a throttled run). Returns the sum and each generator's result."""
        per = max(1, self.connections // len(base_urls))
        server_before = sum(cpu_seconds(pid) for pid in server_pids)
        client_before = children_cpu_seconds()
        wall = time.monotonic()
        procs = [
            subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self.argv(
                    url,
                    request_file,
                    duration_s=duration_s,
                    offset=offset,
                    connections=per,
                    delay_ms=delay_ms,
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for url, offset in zip(base_urls, offsets, strict=True)
        ]
        results = [self._finish(proc, duration_s) for proc in procs]
        wall = time.monotonic() - wall
        result = combine(results)
        server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - server_before
        # Over the load's own wall time (the process also starts, reads the file and exits).
        result.server_cpu_pct = 100 * server_cpu / max(result.duration_s, 1e-9)
        result.client_cpu_pct = 100 * (children_cpu_seconds() - client_before) / max(wall, 1e-9)
        return result, results

    def _finish(self, proc: subprocess.Popen[bytes], duration_s: int) -> LoadResult:
        try:
            stdout_b, stderr_b = proc.communicate(timeout=duration_s + 60)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise BenchError(f"{self.kind} load generator timed out") from exc
        stdout = stdout_b.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise BenchError(
                f"{self.kind} failed ({proc.returncode}):\n{stdout[-2000:]}"
                + stderr_b.decode("utf-8", "replace")[-2000:]
            )
        line = next(
            (ln for ln in reversed(stdout.splitlines()) if ln.startswith(("BENCH_JSON ", "{"))),
            None,
        )
        if line is None:
            raise BenchError(f"no result line from {self.kind}:\n{stdout[-2000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        return LoadResult(
            requests=int(data["requests"]),
            non2xx=int(data["non2xx"]),
            socket_errors=int(data["socket_errors"]),
            duration_s=float(data["duration_s"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
        )


def combine(results: Sequence[LoadResult]) -> LoadResult:
    """Counts add up over the longest duration; p50 is the request-weighted mean of the
    generators' medians and p99 the worst of theirs (an approximation, said in the README)."""
    if len(results) == 1:
        return dataclasses.replace(results[0])
    total = sum(r.requests for r in results) or 1
    return LoadResult(
        requests=sum(r.requests for r in results),
        non2xx=sum(r.non2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        duration_s=max(r.duration_s for r in results),
        p50_ms=sum(r.p50_ms * r.requests for r in results) / total,
        p99_ms=max(r.p99_ms for r in results),
    )


def pick_loader(choice: str, connections: int) -> Loader:
    wrk = shutil.which("wrk")
    if choice == "wrk" and wrk is None:
        raise BenchError("wrk is not on PATH (apt-get install -y wrk), or use --loader python")
    if choice == "python" or wrk is None:
        return Loader("python", None, connections)
    return Loader("wrk", wrk, connections)
