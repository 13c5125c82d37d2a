"""Short tracking-link tokens: 22 random base62 characters, meaningless without the database.

A short token is an opaque id (131 bits from `secrets`), looked up in `tracking_links`; it says
nothing about the shipment. It is short enough that an SMS with its link fits one segment, where
a self-describing signed token (gateway/tracking/links.py, still accepted until it expires) made
every English SMS two. A link is reused for new messages while it is young, so a shipment has a
handful of rows, not one per message.
"""

from __future__ import annotations

import math
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

ALPHABET: Final = string.digits + string.ascii_letters  # base62: no `-`/`_` for SMS apps to split
TOKEN_CHARS: Final = 22
TOKEN_BITS: Final = math.floor(TOKEN_CHARS * math.log2(len(ALPHABET)))  # 130.99 -> 130
_SHAPE: Final = re.compile(rf"[0-9A-Za-z]{{{TOKEN_CHARS}}}")
# A link younger than this is handed out again; an older one still works until it expires.
REUSE_FOR: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a valid token of either kind opens: a shipment, as of a link generation."""

    shipment_id: str
    generation: int  # compared with the shipment's `link_generation`; revoking bumps that
    expires_at: datetime


def new_token() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(TOKEN_CHARS))


def is_short(token: str) -> bool:
    """Shaped like a short token (a signed token always holds a `.`)."""
    return _SHAPE.fullmatch(token) is not None


def reusable(created_at: datetime, expires_at: datetime, now: datetime) -> bool:
    """May this link go into a new message? Young enough, and not about to end early."""
    return now - created_at < REUSE_FOR and expires_at > now
