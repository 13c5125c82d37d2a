"""`lastmile demo` stops cleanly, and its embedded redis-server with it, however it is stopped.

Each case starts the demo in a fresh directory with no LASTMILE_* variable (so it uses
``./lastmile.db`` and starts its own Redis), waits until it is ready and has handled its first
carrier event, records its process tree from ``/proc``, stops it, and checks that nothing of that
tree survives and that nothing was logged as an error.

Known, not covered here: a stop while an arq job is in flight can cancel that job's task outside
arq's own ``try`` (``Worker.run_job`` awaits Redis before it), and then ``Worker.close()`` raises
CancelledError from ``asyncio.gather(*self.tasks.values())`` before ``on_shutdown``: the worker's
HTTP session, relay and engine are never closed ("Unclosed client session" at exit). The cases
below signal at a quiet moment, so they test the shutdown path, not that race.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.processes.procs import (
    Child,
    Children,
    ProcInfo,
    clean_env,
    descendants,
    kill_leftovers,
    wait_gone,
)

READY_S = 30.0
EXIT_S = 15.0
ORPHAN_S = 10.0
IDLE_S = 1.0  # twice arq's poll delay: long enough to see a queued job start
# arq's INFO lines: a job starts ("→"), ends ("←" done, "↻" retry, "!" failed, "⊘" aborted).
_JOB_STARTED = " → "
_JOB_ENDED = (" ← ", " ↻ ", " ! ", " ⊘ ")


async def _wait_stdout(child: Child, text: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while text not in child.stdout():
        assert child.alive(), f"demo died\n{child.describe()}"
        assert time.monotonic() < deadline, f"{text!r} never printed\n{child.describe()}"
        await asyncio.sleep(0.1)


async def _wait_first_event(demo: Child, api_key: str, tracking_number: str) -> None:
    deadline = time.monotonic() + READY_S
    headers = {"Authorization": f"Bearer {api_key}"}
    params = {"tracking_number": tracking_number}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while True:
            async with http.get(demo.url + "/v1/shipments", params=params, headers=headers) as r:
                assert r.status == 200, f"{r.status} {await r.text()}\n{demo.describe()}"
                if (await r.json())["events"]:
                    return
            assert time.monotonic() < deadline, f"no demo event stored\n{demo.describe()}"
            await asyncio.sleep(0.1)


def _log(demo: Child) -> str:
    """The demo's log file (its terminal shows only the readable lines) and its stderr."""
    path = demo.stdout_path.parent / "lastmile-demo" / "demo.log"
    logged = path.read_text("utf-8", "replace") if path.exists() else ""
    return logged + demo.stderr()


def _arq_job_lines(demo: Child) -> tuple[int, int]:
    started = ended = 0
    for line in _log(demo).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") != "arq.worker":
            continue
        event = str(record.get("event", ""))
        started += _JOB_STARTED in event
        ended += any(mark in event for mark in _JOB_ENDED)
    return started, ended


async def _wait_worker_idle(demo: Child) -> None:
    """Until a job has run and none has been running for IDLE_S.

    The signals are sent at such a quiet moment (the demo's next step is 8 s away): stopping
    while a job is in flight is a separate, known problem (see the report in the module doc).
    """
    deadline = time.monotonic() + READY_S
    last, quiet_since = (-1, -1), time.monotonic()
    while True:
        now = _arq_job_lines(demo)
        if now != last:
            last, quiet_since = now, time.monotonic()
        started, ended = now
        if ended >= 1 and started == ended and time.monotonic() - quiet_since >= IDLE_S:
            return
        assert demo.alive(), f"demo died\n{demo.describe()}"
        assert time.monotonic() < deadline, f"demo's worker never idle\n{demo.describe()}"
        await asyncio.sleep(0.1)


async def _start_demo(procs: Children, cwd: Path) -> tuple[Child, list[ProcInfo]]:
    # Its own session: a signal to "the process group" below reaches the demo's tree only.
    demo, ready = await procs.spawn_http(
        "demo", ["demo"], clean_env(), within_s=READY_S, cwd=cwd, new_session=True
    )
    assert ready["status"] == "ok", ready
    checks = ready["checks"]
    assert isinstance(checks, dict), ready
    assert (checks["database"], checks["redis"]) == ("ok", "ok"), ready
    api_key = re.search(r"API key:\s+(\S+)", demo.stdout())
    assert api_key, demo.describe()
    # Let it work first: the first demo parcel's first UPS event is posted and stored, and the
    # printed key reads it through the API.
    await _wait_stdout(demo, "demo parcel", READY_S)
    tracking = re.search(r"demo parcel (\w+):", demo.stdout())
    assert tracking, demo.describe()
    await _wait_first_event(demo, api_key[1], tracking[1])
    await _wait_worker_idle(demo)
    tree = descendants(demo.pid)
    assert any(p.comm == "redis-server" for p in tree), f"no embedded redis-server: {tree}"
    return demo, tree


def _assert_clean_log(demo: Child) -> None:
    stderr = _log(demo)
    assert "Traceback" not in stderr, demo.describe()
    assert '"level": "error"' not in stderr, demo.describe()
    assert '"level": "critical"' not in stderr, demo.describe()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_demo_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    procs = Children(tmp_path)
    tree: list[ProcInfo] = []
    started = time.monotonic()
    try:
        demo, tree = await _start_demo(procs, tmp_path)
        ready_s = time.monotonic() - started

        stopping = time.monotonic()
        demo.popen.send_signal(sig)
        code = await demo.wait_exit(EXIT_S)
        assert code is not None, f"demo still running {EXIT_S:.0f}s after {sig.name}"
        stop_s = time.monotonic() - stopping
        assert code == 0, f"exit code {code} after {sig.name}\n{demo.describe()}"

        # The demo stops its redis-server itself (and waits for it) before it exits.
        survivors = await wait_gone(tree, ORPHAN_S)
        assert not survivors, f"still running after the demo exited: {survivors}"
        _assert_clean_log(demo)
        assert (tmp_path / "lastmile.db").is_file()
        assert (
            demo.stdout()
            .rstrip()
            .endswith(
                "Everything stopped (gateway, worker, Redis). "
                "The demo store's key stays in lastmile-demo/."
            )
        )
        # The terminal shows readable lines only; the JSON logs went to the file.
        assert '"level"' not in demo.stdout() and '"level"' not in demo.stderr()
        assert "→ UPS webhook accepted" in demo.stdout()
        assert "⇢ store webhook delivered, signature ok" in demo.stdout()
        secret_key_file = tmp_path / "lastmile-demo" / "secret.key"
        assert secret_key_file.is_file()  # its secrets' key, made on first run
    finally:
        kill_leftovers(tree)
        procs.close()
    print(f"demo {sig.name}: ready in {ready_s:.1f}s, exited in {stop_s:.2f}s")


async def test_demo_killed_leaves_no_redis_behind(tmp_path: Path) -> None:
    """SIGKILL runs no cleanup at all: PR_SET_PDEATHSIG must stop redis-server."""
    procs = Children(tmp_path)
    tree: list[ProcInfo] = []
    leftover_dirs: list[Path] = []
    try:
        demo, tree = await _start_demo(procs, tmp_path)
        # No cleanup runs, so the server's temporary directory (its cwd) stays: removed below.
        for p in tree:
            if p.comm == "redis-server":
                with contextlib.suppress(OSError):
                    leftover_dirs.append(Path(os.readlink(f"/proc/{p.pid}/cwd")))
        killed = time.monotonic()
        demo.popen.kill()
        assert await demo.wait_exit(EXIT_S) == -signal.SIGKILL
        survivors = await wait_gone(tree, ORPHAN_S)
        assert not survivors, f"orphans {ORPHAN_S:.0f}s after SIGKILL: {survivors}"
        gone_s = time.monotonic() - killed
        assert "Traceback" not in _log(demo), demo.describe()
    finally:
        kill_leftovers(tree)
        procs.close()
        for directory in leftover_dirs:
            if directory.name.startswith("lastmile-redis-"):
                shutil.rmtree(directory, ignore_errors=True)
    print(f"demo SIGKILL: redis-server gone {gone_s:.2f}s after the kill")


async def test_demo_ctrl_c_to_the_process_group(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole foreground process group, not just the demo.

    The worst case of that race is made certain: the demo is paused while the group gets SIGINT,
    so any other member of its group (redis-server) handles the signal first.
    """
    procs = Children(tmp_path)
    tree: list[ProcInfo] = []
    demo: Child | None = None
    try:
        demo, tree = await _start_demo(procs, tmp_path)
        redis = [p for p in tree if p.comm == "redis-server"]
        os.kill(demo.pid, signal.SIGSTOP)
        os.killpg(demo.pid, signal.SIGINT)  # the demo leads its own session and group
        await wait_gone(redis, 2.0)  # redis-server shuts down within ~100 ms if it got it
        os.kill(demo.pid, signal.SIGCONT)

        code = await demo.wait_exit(EXIT_S)
        assert code is not None, f"demo still running {EXIT_S:.0f}s after Ctrl-C"
        assert code == 0, f"exit code {code} after Ctrl-C\n{demo.describe()}"
        survivors = await wait_gone(tree, ORPHAN_S)
        assert not survivors, f"still running after the demo exited: {survivors}"
        _assert_clean_log(demo)
    finally:
        if demo is not None and demo.alive():
            os.kill(demo.pid, signal.SIGCONT)  # a stopped process would ignore SIGTERM
        kill_leftovers(tree)
        procs.close()


async def test_a_second_run_reuses_the_demo_store_and_its_key(tmp_path: Path) -> None:
    procs = Children(tmp_path)
    keys = []
    try:
        for run in ("first", "second"):
            demo, _ = await procs.spawn_http(run, ["demo"], clean_env(), cwd=tmp_path)
            await _wait_stdout(demo, "Ctrl-C stops everything", READY_S)
            key = re.search(r"API key:\s+(\S+)", demo.stdout())
            assert key, demo.describe()
            keys.append(key[1])
            demo.popen.send_signal(signal.SIGINT)
            assert await demo.wait_exit(EXIT_S) == 0, demo.describe()
        second = procs.children[-1].stdout()
    finally:
        procs.close()

    assert keys[0] == keys[1]
    assert "the same as last time, from lastmile-demo/store.json" in second
    saved = tmp_path / "lastmile-demo" / "store.json"
    assert keys[0] in saved.read_text() and saved.stat().st_mode & 0o077 == 0
