"""Where a van truly is, second by second: it speeds up and brakes like one, slows for turns,
stops at some red lights, crawls through a jam, and stands still while the driver is at a door.

`Drive` appends to one timeline; each sample is (t_s, x, y, speed_mps, heading) on the city's
plane, one per second of simulated time.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Final

from gateway.simulate.city import BLOCK_M, XY

ACCEL_MPS2: Final = 1.4
BRAKE_MPS2: Final = 2.2
TURN_MPS: Final = 4.5
RED_LIGHT_CHANCE: Final = 0.22
RED_LIGHT_S: Final = (12, 45)


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float
    x: float
    y: float
    speed_mps: float
    heading: float | None  # degrees from north; None while standing


@dataclass(frozen=True, slots=True)
class Jam:
    """Slow traffic over part of a leg: metres from its start, at most `speed_mps`."""

    from_m: float
    to_m: float
    speed_mps: float


@dataclass(frozen=True, slots=True)
class _Limit:
    at_m: float
    speed_mps: float
    wait_s: float = 0.0


@dataclass
class Drive:
    """One driver's timeline, built leg by leg."""

    start: XY
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.samples:
            self.samples.append(Sample(0.0, *self.start, 0.0, None))

    @property
    def now_s(self) -> float:
        return self.samples[-1].t_s

    @property
    def here(self) -> XY:
        return self.samples[-1].x, self.samples[-1].y

    def wait(self, seconds: float) -> Drive:
        """Stand still (at a door, at the depot)."""
        last = self.samples[-1]
        for step in range(1, math.ceil(seconds) + 1):
            self.samples.append(Sample(last.t_s + step, last.x, last.y, 0.0, None))
        return self

    def along(
        self,
        corners: list[XY],
        rng: random.Random,
        *,
        cruise_mps: float = 11.0,
        jam: Jam | None = None,
        lights: bool = True,
    ) -> Drive:
        """Drive along `corners` (starting where the van is) and stop at the last one."""
        path = [self.here, *corners[1:]] if corners else [self.here]
        cumulative = [0.0]
        for a, b in itertools.pairwise(path):
            cumulative.append(cumulative[-1] + math.dist(a, b))
        limits = _limits(path, cumulative, rng if lights else None)
        self._run(path, cumulative, limits, cruise_mps, jam)
        return self

    def _run(
        self,
        path: list[XY],
        cumulative: list[float],
        limits: list[_Limit],
        cruise_mps: float,
        jam: Jam | None,
    ) -> None:
        total = cumulative[-1]
        s = v = 0.0
        t = self.now_s
        pending = [*limits, _Limit(total, 0.0)]
        while s < total - 0.3:
            target = cruise_mps
            if jam is not None and jam.from_m <= s <= jam.to_m:
                target = min(target, jam.speed_mps)
            for limit in pending[:4]:
                room = max(0.0, limit.at_m - s)
                target = min(target, math.sqrt(limit.speed_mps**2 + 2 * BRAKE_MPS2 * room))
            v = min(target, v + ACCEL_MPS2) if target >= v else max(target, v - BRAKE_MPS2 * 1.5)
            v = max(v, 0.6)  # creeping up to a stop line still moves
            s = min(total, s + v)
            t += 1.0
            red = None
            while pending and s >= pending[0].at_m - 0.3:
                passed = pending.pop(0)
                if passed.wait_s and passed.at_m < total and red is None:
                    red = passed
            if red is not None:  # stopped at the line until it turns green
                s, v = red.at_m, 0.0
                self._add(path, cumulative, s, t, 0.0)
                self.wait(red.wait_s)
                t = self.now_s
                continue
            self._add(path, cumulative, s, t, v)
        last = self.samples[-1]
        self.samples[-1] = Sample(last.t_s, *path[-1], 0.0, None)

    def _add(self, path: list[XY], cumulative: list[float], s: float, t: float, v: float) -> None:
        x, y, heading = point_at(path, cumulative, s)
        self.samples.append(Sample(t, x, y, v, heading if v > 0.5 else None))


def _limits(path: list[XY], cumulative: list[float], rng: random.Random | None) -> list[_Limit]:
    """Slow for every turn; stop at some of the intersections passed (red lights)."""
    limits = []
    for i in range(1, len(path) - 1):
        if _turn_deg(path[i - 1], path[i], path[i + 1]) > 30:
            limits.append(_Limit(cumulative[i], TURN_MPS))
    if rng is not None:
        crossing = BLOCK_M
        while crossing < cumulative[-1] - BLOCK_M / 2:
            if rng.random() < RED_LIGHT_CHANCE:
                limits.append(_Limit(crossing, 0.0, rng.uniform(*RED_LIGHT_S)))
            crossing += BLOCK_M
    return sorted(limits, key=lambda limit: limit.at_m)


def _turn_deg(a: XY, b: XY, c: XY) -> float:
    h1 = math.atan2(b[0] - a[0], b[1] - a[1])
    h2 = math.atan2(c[0] - b[0], c[1] - b[1])
    return abs(math.degrees(math.remainder(h2 - h1, 2 * math.pi)))


def point_at(path: list[XY], cumulative: list[float], s: float) -> tuple[float, float, float]:
    """(x, y, heading) at distance `s` along the path."""
    i = min(max(bisect.bisect_right(cumulative, s) - 1, 0), len(path) - 2)
    (x0, y0), (x1, y1) = path[i], path[i + 1]
    length = cumulative[i + 1] - cumulative[i] or 1.0
    f = min(max((s - cumulative[i]) / length, 0.0), 1.0)
    heading = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360
    return x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, heading
