"""Dispatcher console: how long the board takes for a busy store, and how soon a ping reaches an
open console.

    uv run python benchmarks/dispatch_console.py [--drivers 50] [--stops 20] [--samples 200]

One gateway in this process (SQLite file, embedded Redis), set up through its HTTP API:
`--drivers` drivers, each on an active route of `--stops` stops, half of them delivered, with a
position each. Then:

1. `GET /dispatch/board` (what the page and each stream refresh read): p50/p95 time and size.
2. With one `/dispatch/live` stream open, single-ping batches for random drivers: the time from
   the start of the `POST /v1/driver/locations` to the matching `position` event on the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.app import create_app
from gateway.platform.db import create_engine
from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port
from gateway.platform.migrate import upgrade
from gateway.platform.settings import load_settings
from gateway.tenants.store import create_tenant

ORIGIN = (41.88, -87.65)


async def _ok(response: aiohttp.ClientResponse, *statuses: int) -> None:
    if response.status not in statuses:
        raise RuntimeError(f"HTTP {response.status}: {await response.text()}")


def _at(i: int, j: int) -> tuple[float, float]:
    return ORIGIN[0] + 0.004 * j, ORIGIN[1] + 0.01 * i


async def _setup(
    http: aiohttp.ClientSession, base: str, key: str, args: argparse.Namespace
) -> list[str]:
    store = {"Authorization": f"Bearer {key}"}
    now = datetime.now(UTC)
    tokens = []
    for i in range(args.drivers):
        async with http.post(
            f"{base}/v1/drivers",
            json={"name": f"Driver {i}", "phone": "+13125550199"},
            headers=store,
        ) as r:
            driver = await r.json()
        stops = []
        for j in range(args.stops):
            lat, lon = _at(i, j)
            body = {
                "tracking_number": f"B{i:03d}{j:03d}",
                "carrier": "driver",
                "recipient": {"name": "R"},
                "destination": {"address": f"{j} Main St", "lat": lat, "lon": lon},
                "promised_by": (now + timedelta(hours=4)).isoformat(),
            }
            async with http.post(f"{base}/v1/shipments", json=body, headers=store) as r:
                stops.append({"shipment_id": (await r.json())["id"]})
        async with http.post(
            f"{base}/v1/routes", json={"driver_id": driver["id"], "stops": stops}, headers=store
        ) as r:
            await _ok(r, 201)
        auth = {"Authorization": f"Bearer {driver['token']}"}
        lat, lon = _at(i, 0)
        pings = [
            {
                "lat": lat,
                "lon": lon + 0.0001 * k,
                "recorded_at": (now - timedelta(seconds=30 - k)).isoformat(),
            }
            for k in range(3)
        ]
        async with http.post(
            f"{base}/v1/driver/locations", json={"pings": pings}, headers=auth
        ) as r:
            await _ok(r, 202)
        for j in range(args.stops // 2):
            event = {"type": "delivered", "occurred_at": now.isoformat()}
            async with http.post(
                f"{base}/v1/driver/stops/{stops[j]['shipment_id']}/events", json=event, headers=auth
            ) as r:
                await _ok(r, 200, 201)
        tokens.append(driver["token"])
    return tokens


async def _login(http: aiohttp.ClientSession, base: str, key: str) -> dict[str, str]:
    async with http.get(f"{base}/dispatch/login") as page:
        html = await page.text()
        token = html.split('name="login_token" value="', 1)[1].split('"', 1)[0]
        cookie = page.cookies["lm_dispatch_login"].value
    form = {"api_key": key, "login_token": token, "timezone": "America/Chicago"}
    headers = {"Cookie": f"lm_dispatch_login={cookie}", "Origin": base}
    async with http.post(
        f"{base}/dispatch/login", data=form, headers=headers, allow_redirects=False
    ) as r:
        return {"Cookie": f"lm_dispatch={r.cookies['lm_dispatch'].value}"}


async def _board_times(http: aiohttp.ClientSession, base: str, cookie: dict[str, str]) -> None:
    times, size = [], 0
    for _ in range(30):
        started = time.perf_counter()
        async with http.get(f"{base}/dispatch/board", headers=cookie) as r:
            size = len(await r.read())
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(0.95 * len(times)) - 1]
    median = statistics.median(times)
    print(f"board: p50 {median:.1f} ms, p95 {p95:.1f} ms, {size / 1024:.0f} KiB JSON")


async def _latency(
    http: aiohttp.ClientSession, base: str, cookie: dict[str, str], tokens: list[str], samples: int
) -> None:
    arrived: dict[float, float] = {}
    async with http.get(f"{base}/dispatch/live", headers=cookie) as stream:

        async def read() -> None:
            async for line in stream.content:
                if line.startswith(b"data: ") and b'"driver_id"' in line:
                    lon = json.loads(line[6:])["lon"]
                    arrived.setdefault(round(lon, 7), time.perf_counter())

        reader = asyncio.create_task(read())
        await asyncio.sleep(1.0)
        sent: dict[float, float] = {}
        rng = random.Random(1)  # noqa: S311 - which driver pings next
        for n in range(samples):
            i = rng.randrange(len(tokens))
            lat, lon = _at(i, 0)
            lon = round(lon + 0.001 + n * 1e-6, 7)
            ping = {"lat": lat, "lon": lon, "recorded_at": datetime.now(UTC).isoformat()}
            sent[lon] = time.perf_counter()
            async with http.post(
                f"{base}/v1/driver/locations",
                json={"pings": [ping]},
                headers={"Authorization": f"Bearer {tokens[i]}"},
            ) as r:
                await _ok(r, 202)
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)
        reader.cancel()
    ms = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
    p99, median = ms[int(0.99 * len(ms)) - 1], statistics.median(ms)
    print(f"ping -> console: {len(ms)}/{samples} arrived, p50 {median:.1f} ms, p99 {p99:.1f} ms")


async def run(args: argparse.Namespace, database_url: str, redis_url: str) -> None:
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, dev=True)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        _, key = await create_tenant(conn, "Bench Store")
    await engine.dispose()
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    port = find_free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            tokens = await _setup(http, base, key, args)
            cookie = await _login(http, base, key)
            print(f"{args.drivers} drivers x {args.stops} stops")
            await _board_times(http, base, cookie)
            await _latency(http, base, cookie, tokens, args.samples)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drivers", type=int, default=50)
    parser.add_argument("--stops", type=int, default=20)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, EmbeddedRedis() as redis_url:
        database_url = f"sqlite+aiosqlite:///{directory}/bench.db"
        upgrade(database_url)
        asyncio.run(run(args, database_url, redis_url))


if __name__ == "__main__":
    main()
