"""Real backing services for the test suite: a throwaway PostgreSQL and a throwaway Redis.

Both helpers are plain (synchronous) context managers meant for session-scoped fixtures::

    @pytest.fixture(scope="session")
    def postgres_url() -> Iterator[str]:
        with start_postgres() as url:
            yield url

``LASTMILE_TEST_POSTGRES_URL`` / ``LASTMILE_TEST_REDIS_URL`` point the suite at existing servers
instead. Missing PostgreSQL binaries are an error, never a skip: CI must test against PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port, parent_death_preexec

__all__ = [
    "POSTGRES_BIN_DIR_ENV",
    "POSTGRES_DATABASE",
    "POSTGRES_URL_ENV",
    "REDIS_URL_ENV",
    "PostgresNotAvailable",
    "PostgresServer",
    "find_postgres_bin_dir",
    "postgres_server",
    "start_postgres",
    "start_redis",
]

POSTGRES_URL_ENV = "LASTMILE_TEST_POSTGRES_URL"
REDIS_URL_ENV = "LASTMILE_TEST_REDIS_URL"
POSTGRES_BIN_DIR_ENV = "LASTMILE_POSTGRES_BIN_DIR"
POSTGRES_DATABASE = "lastmile_test"
POSTGRES_SUPERUSER = "postgres"

_STARTUP_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_PORT_ATTEMPTS = 5


class PostgresNotAvailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or it cannot be started)."""


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def start_redis() -> Iterator[str]:
    """Yield a Redis URL: ``$LASTMILE_TEST_REDIS_URL`` or a fresh :class:`EmbeddedRedis`."""
    external = os.environ.get(REDIS_URL_ENV)
    if external:
        yield external
        return
    with EmbeddedRedis() as url:
        yield url


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def _has_server(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in ("initdb", "postgres"))


def find_postgres_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``postgres`` (newest Debian version wins)."""
    override = os.environ.get(POSTGRES_BIN_DIR_ENV)
    if override:
        if not _has_server(Path(override)):
            raise PostgresNotAvailable(
                f"{POSTGRES_BIN_DIR_ENV}={override!r} has no initdb/postgres"
            )
        return Path(override)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for bin_dir in debian:
        if _has_server(bin_dir):
            return bin_dir
    for name in ("postgres", "initdb"):  # e.g. Homebrew, or Debian's /usr/local/bin symlinks
        found = shutil.which(name)
        if found is not None:
            bin_dir = Path(found).resolve().parent
            if _has_server(bin_dir):
                return bin_dir
    raise PostgresNotAvailable(
        "PostgreSQL server binaries (initdb, postgres) not found. Install them "
        "(`sudo .ci/system-deps`, or `apt-get install -y postgresql`), point "
        f"{POSTGRES_BIN_DIR_ENV} at their directory, or set {POSTGRES_URL_ENV} to an existing "
        "server's postgresql+asyncpg:// URL."
    )


class _RunAs:
    """How to run PostgreSQL programs: as ourselves, or (when we are root) as ``postgres``."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self.gid: int | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresNotAvailable(
                    "running as root but there is no 'postgres' system user to run PostgreSQL "
                    "as (it refuses to run as root); install Debian's postgresql package"
                ) from exc
            self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    @property
    def extra_groups(self) -> list[int] | None:
        # Equivalent of `runuser -u postgres --`, but keeps the server our direct child so that
        # PR_SET_PDEATHSIG (set in preexec_fn, after the uid switch that would clear it) applies.
        return [] if self.uid is not None else None


_BASE_PREFIX = "lastmile-pg-"
_STALE_AFTER = 600.0  # seconds


def _pid_alive(pid: int) -> bool:
    if Path("/proc/self/stat").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        # Field 3 is the state; a zombie (Z) has exited and only awaits reaping.
        return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    try:  # no /proc: ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_dirs(parent: Path) -> None:
    """Delete data dirs left by runs that were killed (SIGKILL skips our cleanup).

    A dir counts as stale when it is older than ten minutes and its postmaster is not running.
    """
    now = time.time()
    for base in parent.glob(f"{_BASE_PREFIX}*"):
        try:
            if now - base.stat().st_mtime < _STALE_AFTER:
                continue
            pid_file = base / "data" / "postmaster.pid"
            if pid_file.exists():
                first = pid_file.read_text().split("\n", 1)[0].strip()
                if first.isdigit() and _pid_alive(int(first)):
                    continue
        except (OSError, UnicodeDecodeError):
            continue
        shutil.rmtree(base, ignore_errors=True)


def _make_base_dir(run_as: _RunAs) -> Path:
    parent = Path(tempfile.gettempdir())
    if run_as.uid is not None:
        # The postgres user must be able to reach the directory: $TMPDIR could be under /root.
        probe = parent
        while probe != probe.parent:
            if not os.stat(probe).st_mode & 0o001:
                parent = Path("/tmp")  # noqa: S108 - world-traversable fallback
                break
            probe = probe.parent
    _remove_stale_dirs(parent)
    base = Path(tempfile.mkdtemp(prefix=_BASE_PREFIX, dir=parent))
    run_as.chown(base)
    return base


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_bytes()[-limit:].decode("utf-8", "replace")
    except OSError:
        return ""


def _ready(data_dir: Path) -> bool:
    # Line 8 of postmaster.pid is the postmaster's status: "ready" once it accepts connections.
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def _run_in_thread(func: Callable[[], None]) -> None:
    """Run ``func`` in a fresh thread (so asyncio.run works even under a running loop)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            func()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="lastmile-pg-setup")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _create_database(port: int) -> None:
    async def create() -> None:
        import asyncpg

        deadline = time.monotonic() + 10
        while True:
            try:
                conn = await asyncpg.connect(
                    host="127.0.0.1", port=port, user=POSTGRES_SUPERUSER, database="postgres"
                )
                break
            except (OSError, asyncpg.CannotConnectNowError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        try:
            await conn.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
        finally:
            await conn.close()

    _run_in_thread(lambda: asyncio.run(create()))


def _stop_postmaster(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGINT = "fast" shutdown; SIGQUIT = "immediate"; SIGKILL as a last resort.
    for sig, timeout in ((signal.SIGINT, _STOP_TIMEOUT), (signal.SIGQUIT, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


def _initdb(bin_dir: Path, data_dir: Path, base: Path, run_as: _RunAs, log: IO[bytes]) -> None:
    result = subprocess.run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={data_dir}",
            f"--username={POSTGRES_SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        cwd=base,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        check=False,
        user=run_as.uid,
        group=run_as.gid,
        extra_groups=run_as.extra_groups,
        preexec_fn=parent_death_preexec(signal.SIGTERM),
    )
    if result.returncode != 0:
        log.flush()
        raise PostgresNotAvailable(
            f"initdb failed with exit code {result.returncode}:\n{_tail(base / 'initdb.log')}"
        )


def _spawn_postmaster(
    bin_dir: Path, data_dir: Path, socket_dir: Path, port: int, base: Path, run_as: _RunAs
) -> subprocess.Popen[bytes]:
    with (base / "postgres.log").open("ab") as log:
        return subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                f"-D{data_dir}",
                f"-k{socket_dir}",
                f"-p{port}",
                "-clisten_addresses=127.0.0.1",
                "-cfsync=off",
                "-csynchronous_commit=off",
                "-cfull_page_writes=off",
            ],
            cwd=base,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.extra_groups,
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
            preexec_fn=parent_death_preexec(signal.SIGINT),
        )


def _wait_postmaster(process: subprocess.Popen[bytes], data_dir: Path, log_path: Path) -> bool:
    """True when ready, False when it exited because the port was taken; raises otherwise."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while not _ready(data_dir):
        code = process.poll()
        if code is not None:
            log = _tail(log_path)
            if "Address already in use" in log:
                return False
            raise PostgresNotAvailable(f"postgres exited with code {code} during startup:\n{log}")
        if time.monotonic() > deadline:
            raise PostgresNotAvailable(
                f"postgres did not become ready within {_STARTUP_TIMEOUT:.0f}s:\n{_tail(log_path)}"
            )
        time.sleep(0.02)
    return True


class PostgresServer:
    """A throwaway PostgreSQL server that can be restarted on the same port (the fault suite).

    Use :func:`postgres_server` (a context manager) rather than this class directly.
    """

    def __init__(self) -> None:
        self._bin_dir = find_postgres_bin_dir()
        self._run_as = _RunAs()
        self._base = _make_base_dir(self._run_as)
        self._data_dir = self._base / "data"
        self._socket_dir = self._base / "sock"
        self._log_path = self._base / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return (
            f"postgresql+asyncpg://{POSTGRES_SUPERUSER}@127.0.0.1:{self.port}/{POSTGRES_DATABASE}"
        )

    def start(self) -> str:
        """initdb, start on a free port, create the test database; returns its URL."""
        self._socket_dir.mkdir(mode=0o700)
        self._run_as.chown(self._socket_dir)
        with (self._base / "initdb.log").open("wb") as initdb_log:
            _initdb(self._bin_dir, self._data_dir, self._base, self._run_as, initdb_log)
        for _ in range(_PORT_ATTEMPTS):
            self.port = find_free_port()
            if self._spawn():
                break
        if self._process is None:
            raise PostgresNotAvailable(f"no free port for postgres:\n{_tail(self._log_path)}")
        _create_database(self.port)
        return self.url

    def _spawn(self) -> bool:
        """Start the postmaster on `self.port`; False (and stopped) when the port was taken."""
        process = _spawn_postmaster(
            self._bin_dir, self._data_dir, self._socket_dir, self.port, self._base, self._run_as
        )
        if _wait_postmaster(process, self._data_dir, self._log_path):
            self._process = process
            return True
        _stop_postmaster(process)  # lost a race for the port
        return False

    def stop(self) -> None:
        """Fast shutdown: clients are disconnected at once (as in a restart or a failover)."""
        if self._process is not None:
            _stop_postmaster(self._process)
            self._process = None

    def start_again(self) -> None:
        """Start the stopped server on the same port with the same data.

        Call it from the main thread: PR_SET_PDEATHSIG fires when the *thread* that started
        the server ends, so a server started from a worker thread dies with that thread.
        """
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not self._spawn():  # the port may linger for a moment
            if time.monotonic() > deadline:
                raise PostgresNotAvailable(f"postgres did not restart:\n{_tail(self._log_path)}")
            time.sleep(0.1)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._base, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A fresh, restartable PostgreSQL server (always our own: an external one cannot restart)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def start_postgres() -> Iterator[str]:
    """Yield ``postgresql+asyncpg://postgres@127.0.0.1:PORT/lastmile_test`` for a fresh server.

    ``$LASTMILE_TEST_POSTGRES_URL`` is yielded as-is when set. Otherwise a PostgreSQL server is
    initialised in a temporary directory (as the ``postgres`` user when we are root), started on a
    free port with durability switched off, and stopped and deleted at exit.
    """
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        yield external
        return
    with postgres_server() as server:
        yield server.url
