"""IANA time zones as customers give them, and local time that never overflows.

`ZoneInfo(name)` reads a file named after its argument: an unknown or absurd name (5,000
characters) raises whatever the file system says, so names are checked against the zones this
system knows first.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, available_timezones

MAX_ZONE_CHARS: Final = 64
UTC_ZONE: Final = ZoneInfo("UTC")


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    return len(name) <= MAX_ZONE_CHARS and name in _known()


def zone_or_utc(name: object) -> ZoneInfo:
    """The zone called `name`, or UTC for anything that is not a known zone name."""
    return ZoneInfo(name) if isinstance(name, str) and is_zone(name) else UTC_ZONE


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` in `zone`; a moment that would leave year 1..9999 there stays in UTC."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment
