"""Tracking-link tokens: forged, altered, expired and unknown-key tokens all fail the same way."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from gateway.tracking import links

KEY = secrets.token_bytes(32)
NOW = datetime(2026, 3, 14, 12, tzinfo=UTC)
EXP = NOW + timedelta(days=90)


def test_round_trip() -> None:
    token = links.mint(KEY, "k1", "shp_abc", 3, EXP)
    claims = links.verify(token, {"k1": KEY}, NOW)
    assert claims == links.LinkClaims("k1", "shp_abc", 3, EXP)
    assert len(token) < 100 and "=" not in token and "/" not in token and "+" not in token


def test_old_key_still_verifies_after_rotation() -> None:
    token = links.mint(KEY, "k1", "shp_abc", 0, EXP)
    assert links.verify(token, {"k1": KEY, "k2": secrets.token_bytes(32)}, NOW) is not None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        links.mint(KEY, "k1", "shp_abc", 0, EXP)[:-2] + "AA",
        links.mint(secrets.token_bytes(32), "k1", "shp_abc", 0, EXP),
        links.mint(KEY, "k9", "shp_abc", 0, EXP),
        links.mint(KEY, "k1", "shp_abc", 0, NOW - timedelta(seconds=1)),
        "\u00e9\u00e9.\u00e9",
    ],
)
def test_bad_tokens_are_none(token: str) -> None:
    assert links.verify(token, {"k1": KEY}, NOW) is None
