"""Short-link tokens: shape, randomness, telling the two kinds apart, when a link is reused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.tracking import links, short_links

NOW = datetime(2026, 3, 14, 12, tzinfo=UTC)


def test_tokens_are_22_base62_characters_with_at_least_128_bits() -> None:
    tokens = {short_links.new_token() for _ in range(2000)}

    assert len(tokens) == 2000
    assert all(len(t) == 22 and t.isascii() and t.isalnum() for t in tokens)
    assert short_links.TOKEN_BITS >= 128
    # Every character of the alphabet turns up in every position: no fixed or biased slot.
    for position in range(short_links.TOKEN_CHARS):
        assert len({t[position] for t in tokens}) == len(short_links.ALPHABET)


@pytest.mark.parametrize(
    ("token", "short"),
    [
        ("4kTq9ZbW2xLmN7pR3sVd8e", True),
        ("4kTq9ZbW2xLmN7pR3sVd8", False),  # 21
        ("4kTq9ZbW2xLmN7pR3sVd8ee", False),  # 23
        ("4kTq9ZbW2xLmN7pR3sVd-e", False),
        ("4kTq9ZbW2xLmN7pR3sVd8\u00e9", False),
        ("4kTq9ZbW2xLmN7pR3sVd8\n", False),
        (links.mint(b"k" * 32, "k1", "shp_1", 0, NOW), False),
    ],
)
def test_short_tokens_are_told_apart_from_signed_ones(token: str, short: bool) -> None:
    assert short_links.is_short(token) is short


def test_a_link_is_reused_while_young_and_alive() -> None:
    made = NOW - timedelta(days=29, hours=23)
    assert short_links.reusable(made, made + timedelta(days=90), NOW)
    assert not short_links.reusable(NOW - timedelta(days=30), NOW + timedelta(days=60), NOW)
    assert not short_links.reusable(NOW - timedelta(days=1), NOW, NOW)  # ends now
