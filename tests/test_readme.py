"""The README's walkthrough works as written: its shell blocks run against a real `lastmile demo`.

The blocks between the walkthrough markers run in order in one bash (`set -euo pipefail`), from
the repository, as a reader pastes them into a second terminal. Only the ports differ: the demo
and the example receiver get free ones instead of 8080 and 9000.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from gateway.platform.embedded_redis import find_free_port
from tests.processes.procs import Children, clean_env

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- walkthrough", "<!-- /walkthrough -->"

pytestmark = pytest.mark.slow


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index(START) : readme.index(END)]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 8, "the walkthrough lost its commands"
    return "\n".join(blocks)


def _path_with_uv(bin_dir: Path) -> str:
    """PATH, with a `uv` that runs `python3 -m uv` where uv is only a module (as the Makefile)."""
    if shutil.which("uv") is None:
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "uv"
        shim.write_text('#!/bin/sh\nexec python3 -m uv "$@"\n')
        shim.chmod(0o755)
        return f"{bin_dir}:{os.environ['PATH']}"
    return os.environ["PATH"]


async def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    procs = Children(tmp_path)
    shell = None
    try:
        demo, _ = await procs.spawn_http("demo", ["demo"], clean_env(), cwd=tmp_path)
        receiver_port = find_free_port()
        script = (
            walkthrough()
            .replace("127.0.0.1:8080", f"127.0.0.1:{demo.port}")
            .replace("127.0.0.1:9000", f"127.0.0.1:{receiver_port}")
            .replace(".py 9000 &", f".py {receiver_port} &")
        )
        env = clean_env(
            LASTMILE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/lastmile.db",
            PATH=_path_with_uv(tmp_path / "bin"),
        )
        shell = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the background receiver is in its group: stopped with it
        )
        output, _ = await asyncio.wait_for(shell.communicate(), timeout=180)
        text = output.decode("utf-8", "replace")
        assert shell.returncode == 0, f"{text}\n{demo.describe()}"
    finally:
        if shell is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)
        procs.close()

    assert text.count('{"accepted": 1}') == 2, text
    assert re.search(r'"channel": "sms",\s+"to": "\+1•+0123",\s+"status": "sent"', text), text
    assert "store webhook shipment.status_changed (signature ok" in text, text
    assert "store webhook notification.sent (signature ok" in text
    assert '"score": 5' in text and '"source": "page"' in text
    assert '"status": "delivered"' in text and '"next_cursor": null' in text
    assert re.search(r"^2\n1\n", text, flags=re.MULTILINE), "rotation: two secrets, then one"
    assert "✉ SMS to +1••••••0123: Corner Books: your order is out for delivery" in demo.stdout()
