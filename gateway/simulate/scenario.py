"""One simulated day, written in advance from a seed: four drivers and three carrier parcels.

- Maya delivers four parcels; at the second the customer signs and she takes a photo (proof).
- Luis finds Madison St closed after his second stop: he detours three blocks south (off route)
  and comes back to it (back on route).
- Priya is caught in a jam on her way to the last stop, whose promise she misses: the gateway
  should warn before the promise passes.
- Sam finds nobody home at his second stop (a failed attempt).
- Three FedEx parcels walk from label to doorstep as signed carrier webhooks.

Times are seconds from the round's start. The same seed and round always give the same day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from gateway.simulate.city import XY, address, blocks, grid_leg, join
from gateway.simulate.gps import Fix, fixes
from gateway.simulate.motion import Drive, Jam, Sample

DEPOT: Final = (-16.0, 4.0)  # Carpenter St & Fulton Market, in blocks
SHIFTS: Final = (0.0, -2.0, 2.0, -4.0)  # each round moves the day a few blocks east or west
PROMISE_MARGIN_S: Final = 45 * 60
LATE_BY_S: Final = 5 * 60  # Priya's last stop is promised this long before she gets there
RADIUS_M: Final = 120.0
SERVICE_S: Final = 120.0  # the planned time at each door, as the store sends it


class Outcome(StrEnum):
    DELIVERED = "delivered"
    PROOF = "proof"  # delivered with a photo, a signature and the recipient's name
    FAILED = "failed_attempt"


class Story(StrEnum):
    PROOF = "proof"
    DETOUR = "detour"
    LATE = "late"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StopPlan:
    key: str
    point: XY
    address: str
    customer: str
    outcome: Outcome
    arrive_s: float  # the van stops at the door
    leave_s: float  # the outcome is recorded
    promised_by_s: float
    rating: tuple[int, str] | None = None  # what the customer says afterwards
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DriverPlan:
    key: str
    name: str
    phone: str
    story: Story
    depart_s: float
    stops: tuple[StopPlan, ...]
    path: tuple[XY, ...]  # the planned path the store sends (no detour in it)
    samples: tuple[Sample, ...] = field(repr=False)  # where the van truly is, each second
    fixes: tuple[Fix, ...] = field(repr=False)  # what the phone reports
    end_s: float = 0.0  # back at the depot


@dataclass(frozen=True, slots=True)
class ParcelStep:
    t_s: float
    code: str  # FedEx scan event type
    description: str


@dataclass(frozen=True, slots=True)
class ParcelPlan:
    key: str
    customer: str
    point: XY
    address: str
    steps: tuple[ParcelStep, ...]


@dataclass(frozen=True, slots=True)
class DayPlan:
    seed: int
    round: int
    drivers: tuple[DriverPlan, ...]
    parcels: tuple[ParcelPlan, ...]

    @property
    def duration_s(self) -> float:
        last_parcel = max((s.t_s for p in self.parcels for s in p.steps), default=0.0)
        return max([d.end_s for d in self.drivers] + [last_parcel]) + 30.0


@dataclass(frozen=True, slots=True)
class _Stop:
    at: tuple[float, float]  # blocks
    customer: str
    outcome: Outcome = Outcome.DELIVERED
    rating: tuple[int, str] | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class _Cast:
    key: str
    name: str
    phone: str
    story: Story
    stops: tuple[_Stop, ...]


CAST: Final = (
    _Cast("maya", "Maya Chen", "+13125550101", Story.PROOF, (
        _Stop((-19.5, 9), "Olivia Park", rating=(5, "Super friendly, thank you!")),
        _Stop((-23.5, 11), "Jordan Alvarez", Outcome.PROOF),
        _Stop((-25.5, 7), "Noah Fischer"),
        _Stop((-21.5, 5), "Emma Rossi"),
    )),
    _Cast("luis", "Luis Ortega", "+13125550102", Story.DETOUR, (
        _Stop((-20.5, 6), "Ava Thompson", rating=(4, "Right on time.")),
        _Stop((-24.5, 0), "Liam Novak"),
        _Stop((-17.5, 0), "Sofia Hernandez"),
        _Stop((-12.5, 2), "Mason Lee"),
    )),
    _Cast("priya", "Priya Nair", "+13125550103", Story.LATE, (
        _Stop((-12.5, 8), "Isabella Moore"),
        _Stop((-15.5, 12), "Ethan Walker"),
        _Stop((-3.5, 9), "Mia Johnson", rating=(3, "Late, but very polite.")),
    )),
    _Cast("sam", "Sam Okafor", "+13125550104", Story.FAILED, (
        _Stop((-14.5, -2), "Lucas Brown", rating=(2, "Left it at the wrong door.")),
        _Stop((-10.5, -5), "Amelia Garcia", Outcome.FAILED, note="Nobody home; notice left"),
        _Stop((-7.5, -3), "Henry Wilson"),
        _Stop((-11.5, 1), "Harper Davis"),
    )),
)  # fmt: skip
PARCELS: Final = (
    ("fedex-1", "Charlotte King", (-15.5, 7)),
    ("fedex-2", "Benjamin Scott", (-8.5, 5)),
    ("fedex-3", "Evelyn Young", (-18.5, -3)),
)


def build_day(seed: int, round_no: int = 0) -> DayPlan:
    """The day for `seed` and round `round_no` (pure: the same inputs, the same day)."""
    rng = random.Random(f"{seed}:{round_no}")  # noqa: S311 - a simulation, not a secret
    shift = SHIFTS[round_no % len(SHIFTS)]
    drivers = tuple(
        _driver(cast, index, shift, random.Random(rng.random()))  # noqa: S311 - see above
        for index, cast in enumerate(CAST)
    )
    parcels = tuple(
        _parcel(key, customer, (at[0] + shift, at[1]), index, rng)
        for index, (key, customer, at) in enumerate(PARCELS)
    )
    return DayPlan(seed, round_no, drivers, parcels)


def _driver(cast: _Cast, index: int, shift: float, rng: random.Random) -> DriverPlan:
    depot = blocks(DEPOT[0] + shift, DEPOT[1])
    points = [blocks(s.at[0] + shift, s.at[1]) for s in cast.stops]
    depart_s = 20.0 + 45.0 * index
    drive = Drive(depot).wait(depart_s)
    planned = join(*(grid_leg(a, b) for a, b in zip([depot, *points], points, strict=False)))
    stops: list[StopPlan] = []
    here = depot
    for number, (stop, point) in enumerate(zip(cast.stops, points, strict=True), start=1):
        _drive_to(drive, cast.story, number, here, point, rng)
        arrive = drive.now_s
        drive.wait(_service_s(stop, cast.story, number, rng))
        promise = arrive + PROMISE_MARGIN_S
        if cast.story is Story.LATE and number == len(cast.stops):
            promise = arrive - LATE_BY_S
        stops.append(
            StopPlan(
                f"{cast.key}-{number}",
                point,
                address(point),
                stop.customer,
                stop.outcome,
                arrive,
                drive.now_s,
                promise,
                stop.rating,
                stop.note,
            )
        )
        here = point
    drive.along(grid_leg(here, depot), rng)  # back to the depot, off the clock
    samples = tuple(drive.samples)
    return DriverPlan(
        cast.key,
        cast.name,
        cast.phone,
        cast.story,
        depart_s,
        tuple(stops),
        tuple(planned),
        samples,
        tuple(f for f in fixes(samples, rng) if f.t_s >= depart_s - 60),
        drive.now_s,
    )


def _drive_to(
    drive: Drive, story: Story, number: int, here: XY, point: XY, rng: random.Random
) -> None:
    if story is Story.DETOUR and number == 3:
        # Madison St is closed: three blocks south on the corner's avenue, east, back north.
        (x0, y0), (x1, _) = here, point
        corner_in, corner_out = x0 + blocks(0.5, 0)[0], x1 - blocks(0.5, 0)[0]
        south = y0 - blocks(0, 3)[1]
        detour = [here, (corner_in, y0), (corner_in, south), (corner_out, south), (corner_out, y0)]
        drive.along([*detour, point], rng)
        return
    jam = None
    if story is Story.LATE and number == 3:
        jam = Jam(from_m=100.0, to_m=700.0, speed_mps=1.0)  # stop-and-go behind a crash
    drive.along(grid_leg(here, point), rng, jam=jam)


def _service_s(stop: _Stop, story: Story, number: int, rng: random.Random) -> float:
    if stop.outcome is Outcome.PROOF:
        return rng.uniform(150, 200)  # a signature takes a while
    if stop.outcome is Outcome.FAILED:
        return rng.uniform(170, 210)  # knocking, calling, writing the notice
    return rng.uniform(80, 150)


def _parcel(
    key: str, customer: str, at: tuple[float, float], index: int, rng: random.Random
) -> ParcelPlan:
    point = blocks(*at)
    delivered_s = 540.0 + 300.0 * index + rng.uniform(0, 60)
    steps = (
        ParcelStep(-6 * 3600.0, "OC", "Shipment information sent to FedEx"),
        ParcelStep(15.0 + 5 * index, "AR", "Arrived at FedEx location"),
        ParcelStep(90.0 + 5 * index, "OD", "On FedEx vehicle for delivery"),
        ParcelStep(delivered_s, "DL", "Delivered"),
    )
    return ParcelPlan(key, customer, point, address(point), steps)
