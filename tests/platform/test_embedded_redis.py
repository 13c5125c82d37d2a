from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from gateway.platform.embedded_redis import (
    REDIS_SERVER_BIN_ENV,
    EmbeddedRedis,
    EmbeddedRedisError,
    find_redis_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody has reaped yet counts as gone)."""
    if Path("/proc/self/stat").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        # Field 3 is the state; the command name in field 2 may contain spaces: split after ')'.
        return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _process_gone(pid):
            return True
        time.sleep(0.02)
    return _process_gone(pid)


def _port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_finds_a_redis_server_binary() -> None:
    binary = find_redis_server()
    assert binary.is_file()
    assert os.access(binary, os.X_OK)


def test_env_var_overrides_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(REDIS_SERVER_BIN_ENV, str(tmp_path / "no-such-redis-server"))
    with pytest.raises(EmbeddedRedisError, match=REDIS_SERVER_BIN_ENV):
        find_redis_server()
    monkeypatch.delenv(REDIS_SERVER_BIN_ENV)
    binary = find_redis_server()
    monkeypatch.setenv(REDIS_SERVER_BIN_ENV, str(binary))
    assert find_redis_server() == binary


def test_start_ping_stop() -> None:
    server = EmbeddedRedis()
    url = server.start()
    try:
        assert url == server.url
        assert url.startswith("redis://127.0.0.1:")
        assert url.endswith("/0")
        pid, port = server.pid, server.port
        client = redis.Redis.from_url(url)
        try:
            assert client.ping() is True
            client.set("k", "v")
            assert client.get("k") == b"v"
            # No persistence: nothing configured to save.
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
    finally:
        server.stop()
    assert _wait_gone(pid, timeout=1.0)
    assert _port_closed(port)
    assert not server.running
    with pytest.raises(EmbeddedRedisError):
        _ = server.url
    server.stop()  # idempotent


def test_context_manager() -> None:
    with EmbeddedRedis() as url:
        client = redis.Redis.from_url(url)
        assert client.ping() is True
        client.close()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert _port_closed(port)


def test_two_servers_get_different_ports() -> None:
    with EmbeddedRedis() as first, EmbeddedRedis() as second:
        assert first != second


def test_taken_port_gives_clear_error() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = EmbeddedRedis(port=port)
        with pytest.raises(EmbeddedRedisError, match="address already in use"):
            server.start()
        assert not server.running


def _default_signals() -> None:
    """In the forked child: default SIGINT handling, whatever this test run inherited.

    A shell runs a background job (`make test &`) with SIGINT ignored; a Python started that way
    keeps ignoring it and never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


CHILD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from gateway.platform.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis()
    with server as url:
        print(server.pid, server.port, server.directory, flush=True)
        time.sleep(120)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name
)
def test_parent_death_takes_redis_down(sig: signal.Signals) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
        text=True,
        preexec_fn=_default_signals,
    )
    directory = ""
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "child process did not start redis"
        pid_text, port_text, directory = line.split()
        redis_pid, port = int(pid_text), int(port_text)
        assert not _process_gone(redis_pid)
        client = redis.Redis(host="127.0.0.1", port=port)
        assert client.ping() is True
        client.close()

        parent.send_signal(sig)
        parent.wait(timeout=10)
        assert _wait_gone(redis_pid), f"redis-server {redis_pid} outlived its parent ({sig.name})"
        assert _port_closed(port)
        if sig == signal.SIGINT:  # KeyboardInterrupt runs the context manager's cleanup
            assert not Path(directory).exists()
    finally:
        if directory:  # a killed parent cannot remove it
            shutil.rmtree(directory, ignore_errors=True)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_stale_directories_of_dead_owners_are_removed(tmp_path: Path) -> None:
    from gateway.platform.embedded_redis import DIR_PREFIX, OWNER_FILE, remove_stale_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live, foreign = (tmp_path / f"{DIR_PREFIX}{n}" for n in ("stale", "live", "foreign"))
    for directory in (stale, live, foreign):
        directory.mkdir()
    (stale / OWNER_FILE).write_text(str(dead.pid))
    (live / OWNER_FILE).write_text(str(os.getpid()))

    remove_stale_dirs(tmp_path)

    assert not stale.exists()
    assert live.exists() and foreign.exists()  # a live owner's, and one that is not ours
