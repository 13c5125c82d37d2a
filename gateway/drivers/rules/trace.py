"""A batch's trusted pings as numpy arrays: built once per batch, shared by every rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gateway.drivers.rules.geo import FloatArray
from gateway.drivers.rules.pings import AcceptedPing


@dataclass(frozen=True, slots=True, eq=False)
class Trace:
    """Trusted pings in time order: latitudes, longitudes, POSIX seconds and the datetimes."""

    lat: FloatArray
    lon: FloatArray
    t_s: FloatArray
    times: tuple[datetime, ...]

    @classmethod
    def of(cls, accepted: Sequence[AcceptedPing]) -> Trace:
        """The trusted pings of a screening (`Screening.accepted` is already in time order)."""
        trusted = [a.ping for a in accepted if a.trusted]
        return cls(
            np.fromiter((p.lat for p in trusted), np.float64, len(trusted)),
            np.fromiter((p.lon for p in trusted), np.float64, len(trusted)),
            np.fromiter((p.recorded_at.timestamp() for p in trusted), np.float64, len(trusted)),
            tuple(p.recorded_at for p in trusted),
        )

    def __len__(self) -> int:
        return len(self.t_s)
