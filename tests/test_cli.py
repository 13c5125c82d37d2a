"""The `lastmile` commands as an operator runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LASTMILE = str(Path(sys.executable).parent / "lastmile")


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LASTMILE, *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_is_idempotent_and_tenants_create_prints_one_json_line(tmp_path: Path) -> None:
    env = {"LASTMILE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    assert _run("migrate", env=env, cwd=tmp_path).returncode == 0
    assert _run("migrate", env=env, cwd=tmp_path).returncode == 0

    created = _run("tenants", "create", "Corner Books", env=env, cwd=tmp_path)

    assert created.returncode == 0, created.stderr
    [line] = created.stdout.strip().splitlines()
    data = json.loads(line)
    assert set(data) == {"tenant_id", "api_key"}
    assert data["api_key"] not in created.stderr  # shown once, on stdout only


@pytest.mark.parametrize(
    ("env", "args"),
    [
        ({"LASTMILE_DATABASE_URL": "mysql://nope"}, ("migrate",)),
        ({"LASTMILE_DATABASE_URL": "postgresql+asyncpg://u:hunter2@127.0.0.1:1/x"}, ("migrate",)),
        ({"LASTMILE_REDIS_URL": ""}, ("worker",)),
    ],
)
def test_bad_configuration_is_one_clear_line_and_nonzero(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = _run(*args, env={"LASTMILE_REDIS_URL": "", **env}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("lastmile: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("command", ["migrate", "serve", "worker", "demo"])
def test_a_bad_value_stops_every_command_naming_the_variable(tmp_path: Path, command: str) -> None:
    result = _run(command, env={"LASTMILE_DEV": "garbage"}, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("lastmile: invalid configuration: LASTMILE_DEV: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "garbage" not in result.stderr


@pytest.mark.parametrize("args", [("serve",), ("worker",)])
def test_production_refuses_to_start_without_a_secret_key(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    env = {
        "LASTMILE_REDIS_URL": "redis://127.0.0.1:1/0",
        "LASTMILE_DEV": "",
        "LASTMILE_SECRET_KEY": "",
    }

    result = _run(*args, env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("lastmile: ")
    assert "LASTMILE_SECRET_KEY is required" in result.stderr


def test_a_malformed_secret_key_is_one_line_that_does_not_repeat_it(tmp_path: Path) -> None:
    env = {"LASTMILE_SECRET_KEY": "hunter2-not-fernet", "LASTMILE_REDIS_URL": ""}

    result = _run("migrate", env=env, cwd=tmp_path)

    assert result.returncode == 2 and "LASTMILE_SECRET_KEY" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
