"""`lastmile simulate` in the terminal: one line per thing that happens, a summary at the end,
and Ctrl-C (or SIGTERM) stops every driver cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from gateway.simulate.api import SimulationError
from gateway.simulate.play import Tally
from gateway.simulate.runner import Options, simulate, summary


def run(options: Options, echo: Callable[[str], None]) -> int:
    """Play the simulation to its end or until interrupted; returns the exit status."""
    tally = Tally()

    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - asyncio.run runs this as a task
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await simulate(options, say=echo, tally=tally)
        except SimulationError as exc:
            echo(f"simulation stopped: {exc}")
            return 1
        return 0

    try:
        status = asyncio.run(main())
    except asyncio.CancelledError:
        echo("Stopped: every driver is parked.")
        status = 0
    with contextlib.suppress(Exception):
        for line in summary(tally):
            echo(line)
    return status if not tally.errors else max(status, 1)
