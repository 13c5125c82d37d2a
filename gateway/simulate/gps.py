"""A phone's GPS over a drive: a fix every few seconds with a few metres of noise, now and then a
poor fix (low accuracy, kept for the map but not trusted), a confident wild jump (an outlier the
gateway must refuse) or the same fix sent twice (an app retrying)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from gateway.simulate.city import latlon, offset
from gateway.simulate.motion import Sample

FIX_EVERY_S: Final = 4
NOISE_M: Final = 4.0
POOR_FIX_CHANCE: Final = 0.03
OUTLIER_CHANCE: Final = 0.012
RESEND_CHANCE: Final = 0.01


class FixKind(StrEnum):
    GOOD = "good"
    POOR = "poor"  # low accuracy: the gateway keeps it for the map only
    OUTLIER = "outlier"  # a jump of hundreds of metres with a confident accuracy
    RESENT = "resent"  # an exact copy of the previous fix


@dataclass(frozen=True, slots=True)
class Fix:
    t_s: float  # when it was recorded, seconds from the round's start
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None
    heading: float | None
    kind: FixKind


def fixes(samples: Sequence[Sample], rng: random.Random, every_s: int = FIX_EVERY_S) -> list[Fix]:
    """The phone's fixes over `samples` (one sample per second), in recording order."""
    found: list[Fix] = []
    for sample in samples[:: max(1, every_s)]:
        roll = rng.random()
        if found and roll < RESEND_CHANCE:
            found.append(_copy(found[-1]))
        found.append(_fix(sample, rng, roll))
    return found


def _copy(fix: Fix) -> Fix:
    return replace(fix, kind=FixKind.RESENT)


def _fix(sample: Sample, rng: random.Random, roll: float) -> Fix:
    true = latlon((sample.x, sample.y))
    kind = FixKind.GOOD
    if roll > 1 - OUTLIER_CHANCE:
        kind = FixKind.OUTLIER
        distance, angle = rng.uniform(400, 1500), rng.uniform(0, 2 * math.pi)
        east, north, accuracy = distance * math.sin(angle), distance * math.cos(angle), 8.0
    elif roll > 1 - OUTLIER_CHANCE - POOR_FIX_CHANCE:
        kind = FixKind.POOR
        east, north, accuracy = rng.gauss(0, 45), rng.gauss(0, 45), rng.uniform(65, 150)
    else:
        east, north, accuracy = rng.gauss(0, NOISE_M), rng.gauss(0, NOISE_M), rng.uniform(4, 12)
    lat, lon = offset(true, east, north)
    moving = sample.heading is not None
    speed = max(0.0, sample.speed_mps + rng.gauss(0, 0.3)) if moving else 0.0
    heading = (sample.heading + rng.gauss(0, 3)) % 360 if sample.heading is not None else None
    return Fix(
        sample.t_s,
        round(lat, 7),
        round(lon, 7),
        round(accuracy, 1),
        round(speed, 2),
        round(heading, 1) if heading is not None else None,
        kind,
    )
