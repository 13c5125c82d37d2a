"""An injectable clock: production reads the system time, tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen or datetime.now(UTC)

    def freeze(self, moment: datetime | None) -> None:
        """Pin the time (None: follow the system clock again)."""
        if moment is not None and moment.tzinfo is None:
            raise ValueError("a frozen time must be timezone-aware")
        self._frozen = moment
