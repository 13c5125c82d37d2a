"""Fallback load generator for `benchmarks/ingest.py` when `wrk` is not installed.

Reads the same request file as the wrk Lua script (one request a line:
``path<TAB>header-name<TAB>header-value<TAB>body``), then keeps ``--connections`` aiohttp
workers busy for ``--duration`` seconds against ``--base-url``, cycling through the requests
from ``--offset``; ``--delay-ms`` makes each worker pause between its requests (a throttled
run, as the wrk script's third argument does). Prints one JSON line with the same fields the
wrk script reports: ``requests``, ``non2xx``, ``socket_errors``, ``duration_s``, ``p50_ms``,
``p99_ms``.

The loop is bounded twice: workers stop sending at the deadline, and each request has a timeout.
Only loopback base URLs are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Tally:
    next_index: int
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    latencies_s: list[float] = field(default_factory=list)


def load_requests(path: Path) -> list[PreparedRequest]:
    requests: list[PreparedRequest] = []
    with path.open("r", encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line:
                continue
            req_path, name, value, body = line.split("\t", 3)
            headers = {"Content-Type": "application/json", name: value}
            requests.append(PreparedRequest(req_path, headers, body.encode()))
    if not requests:
        raise SystemExit(f"{path}: no requests")
    return requests


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def run(
    base_url: str,
    requests: list[PreparedRequest],
    *,
    connections: int,
    duration_s: float,
    offset: int,
    timeout_s: float,
    delay_s: float = 0.0,
) -> dict[str, float | int]:
    tally = Tally(next_index=offset)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker() -> None:
            while time.perf_counter() < deadline:
                req = requests[tally.next_index % len(requests)]
                tally.next_index += 1  # one event loop thread: no lock needed
                sent = time.perf_counter()
                try:
                    async with session.post(req.path, data=req.body, headers=req.headers) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    tally.socket_errors += 1
                    continue
                tally.latencies_s.append(time.perf_counter() - sent)
                tally.requests += 1
                if not 200 <= status < 400:  # wrk counts "non-2xx or 3xx"
                    tally.non2xx += 1
                if delay_s:
                    await asyncio.sleep(delay_s)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies = sorted(tally.latencies_s)
    return {
        "requests": tally.requests,
        "non2xx": tally.non2xx,
        "socket_errors": tally.socket_errors,
        "duration_s": elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base-url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--requests-file", required=True, type=Path)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause after each request")
    args = parser.parse_args()
    host = urlsplit(args.base_url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise SystemExit(f"refusing to load {host!r}: loopback addresses only")
    result = asyncio.run(
        run(
            args.base_url,
            load_requests(args.requests_file),
            connections=args.connections,
            duration_s=args.duration,
            offset=args.offset,
            timeout_s=args.timeout,
            delay_s=args.delay_ms / 1000,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
