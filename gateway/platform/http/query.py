"""Parsing numbers out of query strings and headers."""

from __future__ import annotations


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only.

    `str.isdigit()` alone also accepts '¹', '²' and other Unicode digits that `int()` refuses,
    which turned `?limit=¹` into a 500.
    """
    return text.isascii() and text.isdigit()
