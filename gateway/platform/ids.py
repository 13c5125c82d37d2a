"""Identifiers: prefixed, random, URL-safe (`shp_...`), so a log line says what an id names."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"
