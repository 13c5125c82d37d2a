"""`simulate()`: enlist the drivers, connect a carrier, then play rounds until told to stop.

Cancelling the task (Ctrl-C in `lastmile simulate`, or the demo shutting down) stops every
driver at once; whatever the gateway accepted so far stays, as it would on a real road.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp

from gateway.simulate.api import Gateway
from gateway.simulate.clock import SimClock
from gateway.simulate.play import DriverRun, Say, Tally, play_parcels
from gateway.simulate.scenario import DayPlan, build_day
from gateway.simulate.setup import Enlisted, RoundSetup, enlist, prepare_round

log = logging.getLogger(__name__)

CITY_ZONE = ZoneInfo("America/Chicago")

ROUND_GAP_S = 60.0  # between rounds the drivers have a coffee at the depot


@dataclass(frozen=True, slots=True)
class Options:
    url: str
    api_key: str
    seed: int = 7
    speedup: float = 1.0
    rounds: int = 1  # 0: until stopped


def _quiet(_line: str) -> None:
    """The default: lines go to the log only."""


async def simulate(
    options: Options,
    *,
    clock: SimClock | None = None,
    say: Say = _quiet,
    session: aiohttp.ClientSession | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Play `options.rounds` rounds (0: forever) against the gateway; returns the tally.

    Raises SimulationError when the store cannot be set up (a wrong key, an old gateway).
    """
    clock = clock or SimClock(datetime.now(UTC), options.speedup)
    tally = tally if tally is not None else Tally()
    say = _stamped(clock, say)
    own_session = session is None
    http = session or aiohttp.ClientSession()
    try:
        gateway = Gateway(http, options.url, options.api_key)
        first = build_day(options.seed, 0)
        enlisted = await enlist(gateway, first)
        secret = secrets.token_urlsafe(32)
        hook_path = await gateway.connect_fedex(secret)
        run_id = secrets.token_hex(3).upper()
        round_no = 0
        while options.rounds == 0 or round_no < options.rounds:
            plan = first if round_no == 0 else build_day(options.seed, round_no)
            start_s = clock.offset_s()
            setup = await prepare_round(gateway, plan, enlisted, clock, start_s, run_id)
            tally.rounds.append(setup)
            clock.start()
            say(f"Round {round_no + 1}: {len(plan.drivers)} drivers, {len(plan.parcels)} parcels")
            await _play_round(
                gateway, clock, plan, setup, enlisted, (hook_path, secret), tally, say
            )
            round_no += 1
            if options.rounds == 0 or round_no < options.rounds:
                await clock.sleep_until(clock.offset_s() + ROUND_GAP_S)
        return tally
    finally:
        if own_session:
            await http.close()


async def _play_round(
    gateway: Gateway,
    clock: SimClock,
    plan: DayPlan,
    setup: RoundSetup,
    enlisted: dict[str, Enlisted],
    carrier: tuple[str, str],
    tally: Tally,
    say: Say,
) -> None:
    runs = [
        DriverRun(
            gateway,
            clock,
            setup,
            driver,
            enlisted[driver.key],
            tally,
            say,
            random.Random(f"{plan.seed}:{plan.round}:{driver.key}"),  # noqa: S311 - a simulation
        )
        for driver in plan.drivers
    ]
    tasks = [asyncio.create_task(run.play()) for run in runs]
    tasks.append(
        asyncio.create_task(play_parcels(gateway, clock, setup, plan.parcels, *carrier, tally, say))
    )
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _stamped(clock: SimClock, say: Say) -> Say:
    """Lines start with the simulated time in the simulated city."""

    def stamped(text: str) -> None:
        say(f"{clock.now().astimezone(CITY_ZONE):%H:%M:%S}  {text}")

    return stamped


def summary(tally: Tally) -> list[str]:
    refused = ", ".join(f"{n} {reason}" for reason, n in sorted(tally.refused.items())) or "none"
    lines = [
        f"pings: {tally.pings} sent, {tally.accepted} accepted; refused: {refused}",
        "stop events: "
        + (", ".join(f"{n} {kind}" for kind, n in sorted(tally.events.items())) or "none"),
        f"ratings: {tally.ratings}; carrier webhooks: {tally.carrier_events}",
    ]
    if tally.errors:
        lines.append(f"errors: {len(tally.errors)} (first: {tally.errors[0]})")
    return lines
