"""`lastmile demo` (what `make demo` runs) prints the dispatcher console and its simulated
drivers move on it: a real demo process, logged into through the console's own form."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.processes.procs import Child, Children, clean_env, descendants, kill_leftovers

READY_S = 30.0
MOVING_S = 90.0


async def _console(http: aiohttp.ClientSession, demo: Child, api_key: str) -> dict[str, str]:
    """Log in as a dispatcher would; returns the session cookie header."""
    async with http.get(demo.url + "/dispatch/login") as page:
        token = re.search(r'name="login_token" value="([^"]+)"', await page.text())
        login_cookie = page.cookies["lm_dispatch_login"].value
    assert token
    form = {"api_key": api_key, "login_token": token[1], "timezone": "America/Chicago"}
    headers = {"Cookie": f"lm_dispatch_login={login_cookie}", "Origin": demo.url}
    async with http.post(
        demo.url + "/dispatch/login", data=form, headers=headers, allow_redirects=False
    ) as response:
        assert response.status == 303, await response.text()
        return {"Cookie": f"lm_dispatch={response.cookies['lm_dispatch'].value}"}


async def _positions(http: aiohttp.ClientSession, demo: Child, cookie: dict[str, str]) -> Any:
    async with http.get(demo.url + "/dispatch/board", headers=cookie) as response:
        assert response.status == 200
        board = await response.json()
    return {d["name"]: d["position"] for d in board["drivers"]}


async def test_the_demo_prints_the_console_and_its_drivers_move_on_it(tmp_path: Path) -> None:
    procs = Children(tmp_path)
    tree = []
    try:
        demo, ready = await procs.spawn_http(
            "demo", ["demo"], clean_env(), within_s=READY_S, cwd=tmp_path, new_session=True
        )
        assert ready["status"] == "ok", ready
        tree = descendants(demo.pid)
        api_key = re.search(r"API key:\s+(\S+)", demo.stdout())
        assert api_key, demo.describe()
        assert f"dispatch:    {demo.url}/dispatch" in demo.stdout()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            cookie = await _console(http, demo, api_key[1])
            deadline = time.monotonic() + MOVING_S
            first: dict[str, Any] = {}
            while True:
                seen = await _positions(http, demo, cookie)
                maya = seen.get("Maya Chen")
                if maya and not first:
                    first = maya
                if first and maya and maya["recorded_at"] != first["recorded_at"]:
                    break  # newer position, elsewhere: she is driving
                assert time.monotonic() < deadline, f"nobody moved\n{demo.describe()}"
                await asyncio.sleep(1.0)
        assert sorted(seen) == ["Luis Ortega", "Maya Chen", "Priya Nair", "Sam Okafor"]
        assert (maya["lat"], maya["lon"]) != (first["lat"], first["lon"])
        assert "Maya Chen: loaded 4 parcels and set off" in demo.stdout()
        demo.popen.send_signal(signal.SIGINT)
        assert await demo.wait_exit(15.0) == 0, demo.describe()
        assert "Traceback" not in demo.stderr(), demo.describe()
    finally:
        kill_leftovers(tree)
        procs.close()
