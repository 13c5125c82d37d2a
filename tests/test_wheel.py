"""The built wheel: one `gateway` package (nothing else at the top level), and a working demo.

`uv build` makes the sdist and, from it, the wheel (hatch_build.py stages the layout); a fresh
venv gets the locked dependencies from uv's cache and the wheel; `lastmile demo` then runs from
an empty directory until `/readyz` answers, and stops cleanly on SIGINT.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hatch_build import rewrite_imports
from tests.processes.procs import (
    Children,
    ProcInfo,
    clean_env,
    descendants,
    kill_leftovers,
    wait_gone,
)

ROOT = Path(__file__).resolve().parents[1]
UV = [found] if (found := shutil.which("uv")) else ["python3", "-m", "uv"]  # as the Makefile

pytestmark = pytest.mark.slow


def _run(*args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(*UV, "build", "--quiet", "--out-dir", str(dist))
    [built] = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv: the locked runtime dependencies (offline, from uv's cache), then the wheel."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    sync = ("sync", "--quiet", "--offline", "--frozen", "--no-dev", "--no-install-project")
    _run(*UV, *sync, "--python", sys.executable, env=env)
    python = str(venv / "bin" / "python")
    _run(*UV, "pip", "install", "--quiet", "--offline", "--no-deps", "--python", python, str(wheel))
    _run(*UV, "pip", "check", "--quiet", "--python", python)  # the wheel's requirements hold
    return venv


def test_imports_are_rewritten_from_the_syntax_tree_only() -> None:
    source = (
        '"""Docs mention from channels import x."""\n'
        "from channels.base import (\n    Channel,\n)\n"
        "def f() -> None:\n    from webhooks import ups  # noqa\n"
        "from . import sibling\nfrom channelsx import y\n"
    )
    assert rewrite_imports(source, "m.py") == (
        '"""Docs mention from channels import x."""\n'
        "from gateway.channels.base import (\n    Channel,\n)\n"
        "def f() -> None:\n    from gateway.webhooks import ups  # noqa\n"
        "from . import sibling\nfrom channelsx import y\n"
    )
    with pytest.raises(ValueError, match=r"m\.py:1"):
        rewrite_imports("import channels.base\n", "m.py")


def test_the_wheel_installs_one_package_with_its_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}

    assert top == {"gateway", "lastmile_gateway-0.1.0.dist-info"}
    assert "gateway/channels/registry.py" in names and "gateway/webhooks/ups.py" in names
    assert "gateway/templates/sms/en/delivered.txt.j2" in names
    assert "gateway/platform/migrations/script.py.mako" in names
    registry = zipfile.ZipFile(wheel).read("gateway/channels/registry.py").decode()
    assert "from gateway.channels.base import" in registry
    assert "from channels" not in registry


def test_installed_nothing_but_gateway_is_importable(venv: Path, tmp_path: Path) -> None:
    isolated = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u, gateway.channels.registry, gateway.webhooks.registry;"
            "print([n for n in ('channels', 'webhooks', 'templates') if u.find_spec(n)])",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (isolated.returncode, isolated.stdout.strip()) == (0, "[]"), isolated.stderr


async def test_the_installed_demo_runs_from_an_empty_directory(venv: Path, tmp_path: Path) -> None:
    procs = Children(tmp_path, exe=str(venv / "bin" / "lastmile"))
    tree: list[ProcInfo] = []
    try:
        demo, ready = await procs.spawn_http("demo", ["demo"], clean_env(), within_s=60)
        assert ready["status"] == "ok", ready
        tree = descendants(demo.pid)
        os.kill(demo.pid, signal.SIGINT)
        assert await demo.wait_exit(20) == 0, demo.describe()
        assert not await wait_gone(tree, 10), "left running after the demo stopped"
        assert "Traceback" not in demo.stderr(), demo.describe()
    finally:
        kill_leftovers(tree)
        procs.close()
