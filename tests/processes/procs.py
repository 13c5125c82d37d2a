"""Real `lastmile` child processes for the process-level tests.

Every child writes stdout/stderr to files (no pipe can fill up and block it), gets
``PR_SET_PDEATHSIG`` (a killed pytest never leaves a gateway behind), and is stopped by
:meth:`Children.close`, which the tests call in ``finally``. Process trees are read from
``/proc`` (Linux only), so no third-party process library is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from gateway.platform.embedded_redis import (
    REDIS_SERVER_BIN_ENV,
    find_free_port,
    parent_death_preexec,
)

__all__ = [
    "Child",
    "Children",
    "ProcInfo",
    "clean_env",
    "descendants",
    "lastmile_exe",
    "proc_info",
    "wait_gone",
    "wait_ready",
]


def lastmile_exe() -> str:
    """The `lastmile` console script of the environment running the tests."""
    beside = Path(sys.executable).parent / "lastmile"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("lastmile")
    if found is None:
        raise RuntimeError("the `lastmile` console script is not installed (run `uv sync`)")
    return found


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without LASTMILE_* settings, plus ``overrides``.

    Only the machine-specific ``LASTMILE_REDIS_SERVER_BIN`` (which binary the embedded Redis
    runs) is kept.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LASTMILE_") or k == REDIS_SERVER_BIN_ENV
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


# --------------------------------------------------------------------------------------------
# /proc
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    state: str
    start_time: int  # clock ticks since boot: tells a live pid from a reused one
    comm: str


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # "pid (comm) state ppid ..." - comm may contain spaces and parentheses.
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2 :].split()
    return ProcInfo(pid, int(rest[1]), rest[0], int(rest[19]), comm)


def _all_procs() -> list[ProcInfo]:
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = proc_info(int(entry.name))
            if info is not None:
                procs.append(info)
    return procs


def descendants(pid: int) -> list[ProcInfo]:
    """Every live process below ``pid`` (children, grandchildren, ...)."""
    by_parent: dict[int, list[ProcInfo]] = {}
    for info in _all_procs():
        by_parent.setdefault(info.ppid, []).append(info)
    found: list[ProcInfo] = []
    todo = [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def is_running(info: ProcInfo) -> bool:
    """True while that very process (not a reused pid) exists and is not a zombie."""
    now = proc_info(info.pid)
    return now is not None and now.start_time == info.start_time and now.state not in {"Z", "X"}


async def wait_gone(procs: Sequence[ProcInfo], within_s: float) -> list[ProcInfo]:
    """Wait until none of ``procs`` runs; returns the ones still running at the deadline."""
    deadline = time.monotonic() + within_s
    while True:
        alive = [p for p in procs if is_running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.05)


def kill_leftovers(procs: Sequence[ProcInfo]) -> None:
    """SIGKILL whichever of these recorded processes still runs (cleanup after a failure)."""
    for info in procs:
        if is_running(info):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(info.pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    args: list[str]
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} has no HTTP port"
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_bytes().decode("utf-8", "replace")

    def stderr(self) -> str:
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def describe(self) -> str:
        code = self.popen.poll()
        state = "running" if code is None else f"exited with {code}"
        return (
            f"--- {self.name} (pid {self.pid}, {state}): {' '.join(self.args)}\n"
            f"--- stdout (tail):\n{self.stdout()[-3000:]}\n"
            f"--- stderr (tail):\n{self.stderr()[-6000:]}"
        )

    async def wait_exit(self, within_s: float) -> int | None:
        """The exit code, or None if it is still running after ``within_s`` seconds."""
        deadline = time.monotonic() + within_s
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)
        return self.popen.returncode

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; always reaps the process."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout=timeout)


@dataclass
class Children:
    """The processes one test started; :meth:`close` stops every one of them."""

    directory: Path
    exe: str = field(default_factory=lastmile_exe)
    children: list[Child] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        new_session: bool = False,
        port: int | None = None,
    ) -> Child:
        argv = [self.exe, *args]
        stdout_path = self.directory / f"{name}.stdout"
        stderr_path = self.directory / f"{name}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            popen = subprocess.Popen(
                argv,
                env=dict(env),
                cwd=cwd or self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=new_session,
                preexec_fn=parent_death_preexec(signal.SIGTERM),
            )
        child = Child(name, argv, popen, stdout_path, stderr_path, port)
        self.children.append(child)
        return child

    async def spawn_http(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        within_s: float = 60.0,  # a loaded 2-core CI box can take half a minute to import
        cwd: Path | None = None,
        new_session: bool = False,
    ) -> tuple[Child, dict[str, object]]:
        """Start a process that takes ``--port`` and wait for ``/readyz``.

        Retries on another free port when the one picked was taken in the meantime.
        Returns the child and the readiness answer.
        """
        for _attempt in range(3):
            port = find_free_port()
            child = self.spawn(
                name, [*args, "--port", str(port)], env, cwd=cwd, new_session=new_session, port=port
            )
            try:
                return child, await wait_ready(child, within_s)
            except ChildExited:
                if "address already in use" not in child.stderr().lower():
                    raise
                self.children.remove(child)
        raise AssertionError(f"{name}: no free port after 3 attempts")

    def close(self) -> None:
        for child in self.children:
            child.stop()

    def report(self) -> str:
        return "\n".join(child.describe() for child in self.children)


class ChildExited(AssertionError):
    pass


async def wait_ready(child: Child, within_s: float) -> dict[str, object]:
    """Poll ``GET /readyz`` until it answers 200; returns its JSON body."""
    deadline = time.monotonic() + within_s
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while True:
            if not child.alive():
                raise ChildExited(f"{child.name} exited before it was ready\n{child.describe()}")
            try:
                async with session.get(child.url + "/readyz") as response:
                    body = await response.json()
                    if response.status == 200:
                        assert isinstance(body, dict)
                        return body
                    last = f"HTTP {response.status}: {body}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{child.name} not ready within {within_s:.0f}s ({last})\n{child.describe()}"
                )
            await asyncio.sleep(0.1)
