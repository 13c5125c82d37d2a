"""What every benchmark here shares: child processes, loopback HTTP, CPU time, py-spy summaries.

Every process started through :class:`Children` gets SIGTERM if the benchmark dies, and
:meth:`Children.stop_all` (in a ``finally``) ends the rest. Only loopback addresses are contacted.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlsplit

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = BENCH_DIR.parent
RESULTS_DIR: Final = BENCH_DIR / "results"  # git-ignored
HOST: Final = "127.0.0.1"  # loopback only, always
POSTGRES_URL_ENV: Final = "LASTMILE_BENCH_POSTGRES_URL"
PROJECT_PACKAGES: Final = ("gateway", "webhooks", "channels")

STARTUP_TIMEOUT_S: Final = 60.0
COMMAND_TIMEOUT_S: Final = 120.0
STOP_TIMEOUT_S: Final = 20.0
HTTP_TIMEOUT_S: Final = 10.0

ProfileSummary = dict[str, list[tuple[str, float]]]

if str(REPO_ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first
    sys.path.insert(0, str(REPO_ROOT))

from gateway.platform.embedded_redis import parent_death_preexec  # noqa: E402


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; nan when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# Child processes
# ------------------------------------------------------------------------------------------------


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in {"localhost", "::1"}):
        raise BenchError(f"refusing to contact {host!r}: loopback addresses only")


def http_json(
    method: str, url: str, payload: object | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    require_loopback(url)
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - loopback http only (checked above)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - loopback http only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, body.decode("utf-8", "replace")


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    require_loopback(url)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - loopback http only
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class Children:
    """Every process the benchmark starts; :meth:`stop_all` (in a ``finally``) ends them."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self._log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(  # noqa: S603 - fixed argv built here, no shell
            list(argv),
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=parent_death_preexec(signal.SIGTERM),  # no orphans if we are killed
        )
        self._procs.append((name, proc, log))
        return proc

    def log_tail(self, name: str, limit: int = 3000) -> str:
        try:
            return (self._log_dir / f"{name}.log").read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, proc: subprocess.Popen[bytes]) -> int | None:
        """SIGTERM (aiohttp's graceful exit: queued ingest commits finish), then SIGKILL."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.returncode

    def stop_all(self) -> None:
        for _name, proc, log in reversed(self._procs):
            with contextlib.suppress(Exception):
                self.stop(proc)
            log.close()
        self._procs.clear()


def wait_healthy(children: Children, name: str, proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode}:\n{children.log_tail(name)}")
        with contextlib.suppress(OSError, ValueError):
            status, _ = http_json("GET", url)
            if status == 200:
                return
        time.sleep(0.1)
    raise BenchError(
        f"{name} not healthy within {STARTUP_TIMEOUT_S:.0f}s:\n{children.log_tail(name)}"
    )


def lastmile_executable() -> str:
    beside = Path(sys.executable).parent / "lastmile"
    if beside.is_file():
        return str(beside)
    found = shutil.which("lastmile")
    if found is None:
        raise BenchError("`lastmile` is not installed: run this with `uv run python ...`")
    return found


def run_lastmile(args: Sequence[str], env: dict[str, str]) -> str:
    argv = [lastmile_executable(), *args]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`lastmile {' '.join(args)}` timed out") from exc
    if done.returncode != 0:
        raise BenchError(
            f"`lastmile {' '.join(args)}` failed ({done.returncode}):\n"
            + done.stderr.decode("utf-8", "replace")[-3000:]
        )
    return done.stdout.decode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and all its threads (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------------------------
# py-spy
# ------------------------------------------------------------------------------------------------


def py_spy_executable() -> str | None:
    return shutil.which("py-spy") or os.environ.get("PY_SPY") or _uv_tool("py-spy")


def _uv_tool(name: str) -> str | None:
    candidate = Path.home() / ".local" / "bin" / name  # where `uv tool install` puts it
    return str(candidate) if candidate.is_file() else None


def start_py_spy(
    children: Children, pid: int, duration_s: float, out: Path
) -> subprocess.Popen[bytes] | None:
    """Sample `pid` for `duration_s` into `out` (collapsed stacks); None without py-spy."""
    py_spy = py_spy_executable()
    if py_spy is None:
        print(
            "  (py-spy not found on PATH, in $PY_SPY or ~/.local/bin: no profile)", file=sys.stderr
        )
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
        "--rate", "200", "--format", "raw", "--threads", "--nonblocking", "--output", str(out),
    ]  # fmt: skip
    return children.start(f"py-spy-{pid}", argv, dict(os.environ))


def summarize_profile(path: Path, top: int = 12) -> ProfileSummary:
    """From py-spy's raw (collapsed) stacks, as % of all samples: the functions with the most
    self time, and the project's own functions with the most inclusive time."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        self_time[frames[-1][0]] += count
        for name in {name for name, ours in frames if ours}:
            inclusive[name] += count
    if not total:
        return {}
    return {
        "self time": [(name, 100 * n / total) for name, n in self_time.most_common(top)],
        "inclusive time, project code": [
            (name, 100 * n / total) for name, n in inclusive.most_common(top)
        ],
    }


def _frame_name(frame: str) -> tuple[str, bool]:
    """``func (/path/pkg/mod.py:12)`` -> (``func (pkg/mod.py)``, whether it is project code)."""
    func, _, where = frame.partition(" (")
    path = Path(where.split(":", 1)[0])  # py-spy shortens it to the sys.path-relative name
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            path = path.relative_to(REPO_ROOT)
    ours = not path.is_absolute() and bool(path.parts) and path.parts[0] in PROJECT_PACKAGES
    return f"{func} ({path if ours else '/'.join(path.parts[-2:])})", ours


def print_profile(name: str, profile: ProfileSummary) -> None:
    for title, rows in profile.items():
        print(f"\n{name}: py-spy {title} (% of busy samples, all threads)")
        for func, pct in rows:
            print(f"  {pct:5.1f}%  {func}")


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        require_loopback(external.replace("postgresql+asyncpg://", "http://", 1))
        yield external
        return
    from tests.services import start_postgres

    with start_postgres() as url:
        yield url
