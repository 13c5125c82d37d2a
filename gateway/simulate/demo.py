"""The simulated drivers of `lastmile demo`: real speed, round after round, until the demo stops.

The demo calls `drive_demo` once its store exists; the drivers set off as soon as the gateway
answers. They never take the demo down: a refusal is a line on the terminal, not a crash.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import aiohttp

from gateway.simulate.api import SimulationError
from gateway.simulate.play import Say
from gateway.simulate.runner import Options, simulate

log = logging.getLogger(__name__)

UP_WAIT_S: Final = 30.0


def console_banner(public_url: str) -> str:
    """The banner line that tells where the dispatcher console is and how to get in."""
    return (
        f"  dispatch:    {public_url}/dispatch   (log in with the API key above; simulated "
        "drivers set off now, alerts follow within minutes)"
    )


async def drive_demo(base_url: str, api_key: str, say: Say, *, seed: int = 7) -> None:
    """Play simulated days against the demo gateway at real speed until cancelled."""
    if not await _gateway_up(base_url):
        say("simulated drivers: the gateway did not answer; they stay at the depot")
        return
    try:
        await simulate(Options(base_url, api_key, seed=seed, speedup=1.0, rounds=0), say=say)
    except SimulationError as exc:
        log.warning("simulated drivers stopped: %s", exc)
        say(f"simulated drivers stopped: {exc}")


async def _gateway_up(base_url: str) -> bool:
    async with aiohttp.ClientSession() as session:
        for _ in range(int(UP_WAIT_S / 0.2)):
            try:
                async with session.get(f"{base_url}/healthz") as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    return False
