"""Simulated time: `speedup` seconds of the day pass for each second on the wall.

The clock stands at `origin` until `start()` (setting up the store takes real time that the day
should not lose), then runs. Against a gateway on wall-clock time use speedup 1: the gateway
refuses pings from its future. Tests run the gateway on the same SimClock and go faster.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, origin: datetime, speedup: float = 1.0) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        if not speedup > 0:
            raise ValueError("speedup must be positive")
        self.origin = origin
        self.speedup = speedup
        self._started: float | None = None

    def start(self) -> None:
        if self._started is None:
            self._started = time.monotonic()

    def now(self) -> datetime:
        if self._started is None:
            return self.origin
        elapsed = (time.monotonic() - self._started) * self.speedup
        return self.origin + timedelta(seconds=elapsed)

    def at(self, offset_s: float) -> datetime:
        """The moment `offset_s` simulated seconds after the origin."""
        return self.origin + timedelta(seconds=offset_s)

    def offset_s(self) -> float:
        return (self.now() - self.origin).total_seconds()

    async def sleep_until(self, offset_s: float) -> None:
        """Wait until the simulated time reaches `offset_s` (at once if it has)."""
        ahead_s = offset_s - self.offset_s()
        if ahead_s > 0:
            await asyncio.sleep(ahead_s / self.speedup)
