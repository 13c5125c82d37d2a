"""Playing one round: each driver's app (ping batches, stop events, proof uploads), the customers
rating afterwards, and the carrier's webhooks, each at its moment on the simulation clock."""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from gateway.simulate import carriers, images
from gateway.simulate.api import Gateway, SimulationError
from gateway.simulate.city import latlon
from gateway.simulate.clock import SimClock
from gateway.simulate.gps import Fix
from gateway.simulate.scenario import DriverPlan, Outcome, ParcelPlan, StopPlan, Story
from gateway.simulate.setup import Enlisted, RoundSetup

log = logging.getLogger(__name__)

BATCH_S: Final = 20  # the app uploads what it recorded every 20 s
UPLOAD_DELAY_S: Final = 2.0
HOLD_BACK_CHANCE: Final = 0.05  # a dead spot: the batch goes out late, after the next one
NEAR_STOP_M: Final = 400.0  # never hold back near a stop (the arrival is timed by the pings)
RATE_AFTER_S: Final = 90.0
FUTURE_PINGS: Final = (
    "the gateway refuses pings from its future: its clock is behind the simulation's "
    "(--speedup above 1 needs a gateway whose clock keeps pace)"
)

Say = Callable[[str], None]


class Act(StrEnum):
    LOADED = "loaded"  # out for delivery: every stop of the route
    PINGS = "pings"
    ARRIVED = "arrived"
    OUTCOME = "outcome"
    RATING = "rating"
    NOTE = "note"  # only a line for the person watching


@dataclass(frozen=True, slots=True)
class Action:
    t_s: float
    act: Act
    fixes: tuple[Fix, ...] = ()
    stop: StopPlan | None = None
    text: str = ""


@dataclass
class Tally:
    """What the simulation sent and what the gateway said, for the summary (and the tests)."""

    pings: int = 0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    ratings: int = 0
    carrier_events: int = 0
    errors: list[str] = field(default_factory=list)
    rounds: list[RoundSetup] = field(default_factory=list)


def driver_actions(driver: DriverPlan, rng: random.Random) -> list[Action]:
    """Everything one driver's phone does in a round, in time order (pure)."""
    actions = [Action(max(0.0, driver.depart_s - 10), Act.LOADED)]
    actions += _batches(driver, rng)
    for stop in driver.stops:
        actions.append(Action(stop.arrive_s + 3, Act.ARRIVED, stop=stop))
        actions.append(Action(stop.leave_s, Act.OUTCOME, stop=stop))
        if stop.rating and stop.outcome is not Outcome.FAILED:
            actions.append(Action(stop.leave_s + RATE_AFTER_S, Act.RATING, stop=stop))
    if driver.story is Story.DETOUR:
        text = "Madison St is closed ahead: detouring three blocks south"
        actions.append(Action(driver.stops[1].leave_s + 1, Act.NOTE, text=text))
    if driver.story is Story.LATE:
        text = "stuck in stop-and-go traffic behind a crash"
        actions.append(Action(driver.stops[1].leave_s + 30, Act.NOTE, text=text))
    actions.append(Action(driver.end_s, Act.NOTE, text="back at the depot"))
    order = {Act.PINGS: 0}
    return sorted(actions, key=lambda a: (a.t_s, order.get(a.act, 1)))


def _batches(driver: DriverPlan, rng: random.Random) -> list[Action]:
    stops = [latlon(s.point) for s in driver.stops]
    windows: dict[int, list[Fix]] = {}
    for fix in driver.fixes:
        if fix.t_s >= 0:
            windows.setdefault(math.ceil(fix.t_s / BATCH_S), []).append(fix)
    actions = []
    held: tuple[Fix, ...] = ()
    for window in sorted(windows):
        batch = tuple(windows[window])
        send_s = window * BATCH_S + UPLOAD_DELAY_S
        if held:  # the late batch follows the one after it: out of order, as phones do
            actions.append(Action(send_s, Act.PINGS, batch))
            actions.append(Action(send_s + 0.5, Act.PINGS, held))
            held = ()
            continue
        far = all(_far(fix, stops) for fix in batch)
        if far and rng.random() < HOLD_BACK_CHANCE:
            held = batch
            continue
        actions.append(Action(send_s, Act.PINGS, batch))
    if held:
        actions.append(Action(driver.end_s + UPLOAD_DELAY_S, Act.PINGS, held))
    return actions


def _far(fix: Fix, stops: list[tuple[float, float]]) -> bool:
    for lat, lon in stops:
        north = (fix.lat - lat) * 111_195
        east = (fix.lon - lon) * 111_195 * math.cos(math.radians(lat))
        if math.hypot(north, east) < NEAR_STOP_M:
            return False
    return True


@dataclass
class DriverRun:
    gateway: Gateway
    clock: SimClock
    setup: RoundSetup
    driver: DriverPlan
    enlisted: Enlisted
    tally: Tally
    say: Say
    rng: random.Random

    def at(self, t_s: float) -> float:
        return self.setup.start_s + t_s

    async def play(self) -> None:
        for action in driver_actions(self.driver, self.rng):
            await self.clock.sleep_until(self.at(action.t_s))
            try:
                await self._do(action)
            except SimulationError as exc:
                self.tally.errors.append(f"{self.driver.name}: {exc}")
                log.warning("simulation: %s: %s", self.driver.name, exc)

    def line(self, text: str) -> None:
        self.say(f"{self.driver.name}: {text}")

    async def _do(self, action: Action) -> None:
        stop = action.stop
        if action.act is Act.PINGS:
            await self._pings(action.fixes)
        elif action.act is Act.LOADED:
            await self._loaded()
        elif action.act is Act.NOTE:
            self.line(action.text)
        elif stop is not None and action.act is Act.ARRIVED:
            await self._event(stop, "arrived")
            self.line(f"arrived at {stop.address}")
        elif stop is not None and action.act is Act.OUTCOME:
            await self._outcome(stop)
        elif stop is not None and action.act is Act.RATING and stop.rating:
            score, comment = stop.rating
            await self.gateway.rate(self._shipment(stop)["tracking_url"], score, comment)
            self.tally.ratings += 1
            self.say(f"{stop.customer} rated {self.driver.name} {score}★: “{comment}”")

    def _shipment(self, stop: StopPlan) -> dict[str, str]:
        return self.setup.shipments[stop.key]

    async def _pings(self, fixes: tuple[Fix, ...]) -> None:
        verdicts = await self.gateway.pings(
            self.enlisted.token, fixes, lambda t_s: self.clock.at(self.at(t_s))
        )
        self.tally.pings += len(fixes)
        self.tally.accepted += int(verdicts.get("accepted", 0))
        for verdict in verdicts.get("pings", []):
            if verdict and verdict.get("status") == "refused":
                self.tally.refused[str(verdict.get("reason"))] += 1
        if self.tally.refused["future_time"] and not self.tally.errors:
            # Not noise the simulation makes: the gateway's clock is behind the simulation's.
            self.tally.errors.append(FUTURE_PINGS)
            self.say(FUTURE_PINGS)

    async def _loaded(self) -> None:
        moment = self.clock.at(self.at(max(0.0, self.driver.depart_s - 10)))
        for stop in self.driver.stops:
            await self.gateway.stop_event(
                self.enlisted.token, self._shipment(stop)["id"], "out_for_delivery", moment
            )
        self.tally.events["out_for_delivery"] += len(self.driver.stops)
        self.line(f"loaded {len(self.driver.stops)} parcels and set off")

    async def _event(self, stop: StopPlan, kind: str, note: str | None = None) -> None:
        moment = self.clock.at(self.at(stop.leave_s if kind != "arrived" else stop.arrive_s))
        await self.gateway.stop_event(
            self.enlisted.token, self._shipment(stop)["id"], kind, moment, note
        )
        self.tally.events[kind] += 1

    async def _outcome(self, stop: StopPlan) -> None:
        if stop.outcome is Outcome.FAILED:
            await self._event(stop, "failed_attempt", stop.note)
            self.line(f"nobody home at {stop.address}: failed attempt ({stop.note})")
        elif stop.outcome is Outcome.PROOF:
            lat, lon = latlon(stop.point)
            await self.gateway.proof(
                self.enlisted.token,
                self._shipment(stop)["id"],
                photo=images.doorstep_photo(self.rng, lat, lon),
                signature=images.signature(self.rng),
                recipient_name=stop.customer,
                at=self.clock.at(self.at(stop.leave_s)),
            )
            self.tally.events["proof"] += 1
            self.line(f"delivered at {stop.address}, signed by {stop.customer}, photo taken")
        else:
            await self._event(stop, "delivered")
            self.line(f"delivered at {stop.address}")


async def play_parcels(
    gateway: Gateway,
    clock: SimClock,
    setup: RoundSetup,
    parcels: tuple[ParcelPlan, ...],
    hook_path: str,
    secret: str,
    tally: Tally,
    say: Say,
) -> None:
    """Every carrier scan at its moment, as a signed FedEx webhook."""
    steps = sorted(((step, parcel) for parcel in parcels for step in parcel.steps),
                   key=lambda pair: pair[0].t_s)  # fmt: skip
    for step, parcel in steps:
        await clock.sleep_until(setup.start_s + max(0.0, step.t_s))
        number = setup.tracking_numbers[parcel.key]
        at = clock.at(setup.start_s + step.t_s)
        delivered = parcels[-1].steps[-1].t_s
        payload = carriers.fedex_push(
            number,
            step.code,
            step.description,
            at,
            clock.at(setup.start_s + delivered),
            received_by=parcel.customer.split()[-1].upper() if step.code == "DL" else None,
        )
        body, headers = carriers.signed(payload, secret)
        try:
            await gateway.carrier_webhook(hook_path, body, headers)
        except SimulationError as exc:
            tally.errors.append(f"FedEx {number}: {exc}")
            continue
        tally.carrier_events += 1
        if step.t_s >= 0:
            say(f"FedEx {number} ({parcel.address}): {step.description}")
