"""Shared channel helpers: Retry-After parsing and required settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.base import ChannelConfigError, parse_retry_after, require

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),  # already past: retry now
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_require_names_the_variable_and_strips() -> None:
    assert require(" AC1 ", "TWILIO_ACCOUNT_SID", "twilio") == "AC1"
    for empty in (None, "", "  "):
        with pytest.raises(ChannelConfigError, match="TWILIO_ACCOUNT_SID is required when"):
            require(empty, "TWILIO_ACCOUNT_SID", "twilio")
