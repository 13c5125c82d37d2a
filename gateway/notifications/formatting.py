"""Dates and times as the recipient reads them: their time zone, their locale (CLDR via Babel)."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time

from gateway.domain.zones import to_local
from gateway.notifications.rules import DEFAULT_LANGUAGE, language


@lru_cache(maxsize=256)
def babel_locale(locale: str | None) -> Locale:
    """`en-US` as Babel knows it; an unknown region falls back to the language, then English."""
    for candidate in (locale or "", language(locale)):
        try:
            return Locale.parse(candidate.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(DEFAULT_LANGUAGE)


def _plain(text: str) -> str:
    # CLDR puts narrow no-break spaces in times ("2:14 PM"); SMS and subjects want plain ones.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@lru_cache(maxsize=4096)
def format_day(day: date, locale: str | None) -> str:
    """`Tue, Mar 17` / `mar, 17 mar` (cached: Babel matches the skeleton on every call)."""
    return _plain(format_skeleton("MMMEd", day, locale=babel_locale(locale)))


@lru_cache(maxsize=4096)
def _clock(hour: int, minute: int, locale: str | None) -> str:
    return _plain(format_time(time(hour, minute), "short", locale=babel_locale(locale)))


def format_moment(moment: datetime, zone: ZoneInfo, locale: str | None) -> str:
    """`Tue, Mar 17, 2:14 PM` in the recipient's zone."""
    local = to_local(moment, zone)
    return f"{format_day(local.date(), locale)}, {_clock(local.hour, local.minute, locale)}"


def format_eta(
    eta_day: date | None, eta_at: datetime | None, zone: ZoneInfo, locale: str | None
) -> str | None:
    """A precise ETA (dispatcher) wins over the carrier's estimated day."""
    if eta_at is not None:
        return format_moment(eta_at, zone, locale)
    if eta_day is not None:
        return format_day(eta_day, locale)
    return None
