"""Delivery ratings: who may rate when, and how an SMS reply reads as a rating. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from gateway.domain.events import Status

EDIT_WINDOW: Final = timedelta(hours=24)
MAX_COMMENT_CHARS: Final = 1000

# "5", "4 great driver", "3/5 late", "5 stars!", "2 - box was wet"; not "10", "4.5", "3pm", "1Z…".
_SMS_REPLY: Final = re.compile(
    r"""^\s*(?P<score>[1-5])
        (?![.,:]?\d)(?!\s*[ap]\.?m\b)
        (?=$|[\s\-:,.;!/*\u2b50]|stars?\b|estrellas?\b)
        (?:\s*/\s*5)?(?:\s*(?:stars?|estrellas?)\b)?
        [\s\-:,.;!*\u2b50]*(?P<comment>.*?)\s*$""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


class RatingSource(StrEnum):
    PAGE = "page"
    SMS = "sms"


class RatingNotAllowed(Exception):
    """Raised when the shipment is not delivered yet: there is nothing to rate."""


class RatingLocked(Exception):
    """Raised when the rating is older than EDIT_WINDOW and can no longer change."""


@dataclass(frozen=True, slots=True)
class RatingInput:
    score: int
    comment: str | None
    source: RatingSource


def may_rate(status: str) -> bool:
    return status == Status.DELIVERED.value


def editable_until(created_at: datetime) -> datetime:
    return created_at + EDIT_WINDOW


def is_editable(created_at: datetime, now: datetime) -> bool:
    return now < editable_until(created_at)


def clean_comment(comment: str | None) -> str | None:
    """Trimmed, at most MAX_COMMENT_CHARS, None when empty."""
    if comment is None:
        return None
    comment = comment.strip()[:MAX_COMMENT_CHARS].strip()
    return comment or None


def parse_sms_reply(body: str) -> RatingInput | None:
    """A rating if the reply starts with a score 1-5 (then an optional comment), else None."""
    match = _SMS_REPLY.match(body)
    if match is None:
        return None
    return RatingInput(int(match["score"]), clean_comment(match["comment"]), RatingSource.SMS)
