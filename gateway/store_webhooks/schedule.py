"""When to try a failed delivery again: the retry schedule, jitter and `Retry-After`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final

from gateway.platform.http.query import is_ascii_digits

# Delays after the 1st, 2nd, ... failed attempt (the first attempt is immediate): 8 attempts.
BACKOFF_S: Final[tuple[float, ...]] = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER: Final = 0.1  # ±10 %, so endpoints that failed together do not retry together
MAX_RETRY_AFTER_S: Final = 24 * 3600.0  # a receiver cannot park a message for longer


def next_delay_s(
    failed_attempts: int,
    *,
    retry_after_s: float | None = None,
    backoff_s: tuple[float, ...] = BACKOFF_S,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after `failed_attempts` failures; None: give up.

    A `Retry-After` longer than the schedule wins; a shorter one does not hurry us.
    """
    if failed_attempts > len(backoff_s):
        return None
    base = backoff_s[failed_attempts - 1]
    jittered = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after_s is not None:
        return max(jittered, min(retry_after_s, MAX_RETRY_AFTER_S))
    return jittered


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    if is_ascii_digits(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now) / timedelta(seconds=1), 0.0)
