"""Identifiers: prefixed, random, URL-safe (`shp_...`), so a log line says what an id names."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids of `new_id`'s shape for rows written together, from one random draw.

    Time-ordered: 48 bits of milliseconds, then 48 random bits. Rows inserted together land
    next to each other in a primary-key index instead of on random pages (fewer pages written
    per commit), and one system call serves a whole batch. Unique as long as fewer than about
    a million ids are drawn in the same millisecond.
    """
    stamp = f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}"
    tails = secrets.token_bytes(6 * count).hex()
    return [f"{prefix}_{stamp}{tails[12 * i : 12 * i + 12]}" for i in range(count)]
