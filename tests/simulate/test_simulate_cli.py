"""`lastmile simulate` as a person runs it: a real process against a real gateway, stopped with
Ctrl-C (SIGINT) mid-day; and its arguments refused with one clear line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import make_store

LASTMILE = str(Path(sys.executable).parent / "lastmile")


async def _lastmile(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        LASTMILE,
        "simulate",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "LASTMILE_API_KEY": ""},
    )


async def _read_until(stream: asyncio.StreamReader, text: str, timeout_s: float) -> str:
    seen = ""
    async with asyncio.timeout(timeout_s):
        while text not in seen:
            line = await stream.readline()
            assert line, f"output ended before {text!r}: {seen}"
            seen += line.decode()
    return seen


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ctrl_c_parks_every_driver_and_prints_a_summary(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    url = str(client.make_url("")).rstrip("/")
    process = await _lastmile("--url", url, "--api-key", store.api_key, "--speedup", "1")
    assert process.stdout is not None and process.stderr is not None
    try:
        before = await _read_until(process.stdout, "Round 1: 4 drivers, 3 parcels", 60)
        await asyncio.sleep(1.0)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest = (await process.stdout.read()).decode()
            errors = (await process.stderr.read()).decode()
            status = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert status == 0, errors
    assert "Traceback" not in errors and store.api_key not in before + rest + errors
    assert "Stopped: every driver is parked." in rest
    assert "pings:" in rest and "ratings:" in rest
    drivers = await client.get("/v1/drivers", headers=store.headers)
    names = sorted(d["name"] for d in (await drivers.json())["drivers"])
    assert names == ["Luis Ortega", "Maya Chen", "Priya Nair", "Sam Okafor"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "ftp://example", "--api-key", "k"), "--url must be an http"),
        (("--url", "http://127.0.0.1:1", "--api-key", "k", "--speedup", "0"), "--speedup"),
        (("--url", "http://127.0.0.1:1"), "--api-key"),
    ],
)
async def test_bad_arguments_are_one_clear_complaint(args: tuple[str, ...], message: str) -> None:
    process = await _lastmile(*args)
    _, errors = await process.communicate()
    assert process.returncode == 2
    assert message in errors.decode() and "Traceback" not in errors.decode()


async def test_an_unreachable_gateway_is_a_clear_failure_not_a_traceback() -> None:
    process = await _lastmile("--url", "http://127.0.0.1:1", "--api-key", "lm_x_y")
    async with asyncio.timeout(60):
        output, errors = await process.communicate()
    assert process.returncode == 1
    assert "simulation stopped:" in output.decode() and "Traceback" not in errors.decode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_speedup_the_gateways_clock_cannot_follow_is_named_not_hidden(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    url = str(client.make_url("")).rstrip("/")
    process = await _lastmile("--url", url, "--api-key", store.api_key, "--speedup", "50")
    assert process.stdout is not None
    try:
        said = await _read_until(process.stdout, "refuses pings from its future", 60)
        assert "--speedup above 1 needs a gateway whose clock keeps pace" in said
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1  # the run had an error, and says so in its exit status
