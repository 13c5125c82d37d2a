"""Synthetic driving for the driver-rule tests: a city grid, a driver, noisy GPS.

Positions are metres east/north of a corner of Chicago's street grid (blocks of 1/8 mile,
~201 m), turned into [lat, lon] with the inverse of the rules' own local plane. A `Drive` is a
list of keyframes (time, x, y) joined by straight motion; `pings` samples it every few seconds
and adds seeded Gaussian noise, so each test sees the same "random" trace every run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from gateway.drivers.rules.geo import EARTH_RADIUS_M
from gateway.drivers.rules.pings import Ping

ORIGIN = (41.8781, -87.6298)  # State and Madison, Chicago: the grid's zero point
BLOCK_M = 201.0
T0 = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)

XY = tuple[float, float]


def latlon(x_m: float, y_m: float) -> tuple[float, float]:
    """The [lat, lon] of a point x metres east and y metres north of ORIGIN."""
    lat0, lon0 = ORIGIN
    k = EARTH_RADIUS_M * math.pi / 180
    return lat0 + y_m / k, lon0 + x_m / (k * math.cos(math.radians(lat0)))


def blocks(*moves: tuple[str, float], start: XY = (0.0, 0.0)) -> list[XY]:
    """Corners visited by driving whole blocks: ("E", 3) is three blocks east."""
    step = {"E": (1, 0), "W": (-1, 0), "N": (0, 1), "S": (0, -1)}
    corners = [start]
    for heading, count in moves:
        dx, dy = step[heading]
        x, y = corners[-1]
        corners.append((x + dx * count * BLOCK_M, y + dy * count * BLOCK_M))
    return corners


def path_latlon(corners: Sequence[XY]) -> list[list[float]]:
    return [list(latlon(x, y)) for x, y in corners]


@dataclass
class Drive:
    """Where the driver truly is over time: drive along corners, wait, drive on."""

    start: XY
    t0: datetime = T0
    frames: list[tuple[float, float, float]] = field(default_factory=list)  # (t_s, x, y)

    def __post_init__(self) -> None:
        self.frames.append((0.0, *self.start))

    @property
    def now_s(self) -> float:
        return self.frames[-1][0]

    @property
    def here(self) -> XY:
        return self.frames[-1][1], self.frames[-1][2]

    def to(self, *corners: XY, speed_mps: float) -> Drive:
        for x, y in corners:
            hx, hy = self.here
            self.frames.append((self.now_s + math.hypot(x - hx, y - hy) / speed_mps, x, y))
        return self

    def wait(self, seconds: float) -> Drive:
        self.frames.append((self.now_s + seconds, *self.here))
        return self

    def at(self, t_s: float) -> XY:
        ts, xs, ys = (np.array(c) for c in zip(*self.frames, strict=True))
        return float(np.interp(t_s, ts, xs)), float(np.interp(t_s, ts, ys))

    def time_of(self, t_s: float) -> datetime:
        return self.t0 + timedelta(seconds=t_s)

    def pings(
        self, seed: int, noise_m: float = 6.0, interval_s: float = 5.0, accuracy_m: float = 10.0
    ) -> list[Ping]:
        """One ping every interval_s with Gaussian noise of noise_m per axis."""
        rng = np.random.default_rng(seed)
        ts, xs, ys = (np.array(c) for c in zip(*self.frames, strict=True))
        times = np.arange(0.0, self.now_s + 1e-9, interval_s)
        x = np.interp(times, ts, xs) + rng.normal(0, noise_m, len(times))
        y = np.interp(times, ts, ys) + rng.normal(0, noise_m, len(times))
        return [
            Ping(*latlon(float(px), float(py)), self.time_of(float(t)), accuracy_m=accuracy_m)
            for t, px, py in zip(times, x, y, strict=True)
        ]


def ping_at(x_m: float, y_m: float, t_s: float, accuracy_m: float | None = 10.0) -> Ping:
    return Ping(*latlon(x_m, y_m), T0 + timedelta(seconds=t_s), accuracy_m=accuracy_m)


def batches(items: Sequence[Ping], sizes: Sequence[int]) -> Iterator[list[Ping]]:
    """Consecutive chunks with the given sizes, cycling through them."""
    i = 0
    for n in _cycle(sizes):
        if i >= len(items):
            return
        yield list(items[i : i + n])
        i += n


def _cycle(sizes: Sequence[int]) -> Iterator[int]:
    while True:
        yield from sizes
