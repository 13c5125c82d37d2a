"""The span of time the gateway accepts: a moment outside it is a mistake or an attack.

A time near year 9999 (or 1) cannot be shown in every zone, nor moved by an hour, without
leaving what Python's datetime can hold; no parcel needs one, so input is refused outside
EARLIEST..LATEST and everything inside can be converted and shifted freely.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Final

from pydantic import AfterValidator, AwareDatetime

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)
OUT_OF_RANGE: Final = f"must be between {EARLIEST.year} and {LATEST.year}"


def in_range(moment: datetime) -> datetime:
    """`moment` (tz-aware) in UTC. Raises ValueError outside EARLIEST..LATEST."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:59 is past year 9999 in UTC
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(OUT_OF_RANGE)
    return utc


def day_in_range(day: date) -> date:
    """Raises ValueError for a calendar day outside EARLIEST..LATEST."""
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError(OUT_OF_RANGE)
    return day


# A tz-aware datetime from the API, in range, as UTC.
Moment = Annotated[AwareDatetime, AfterValidator(in_range)]
