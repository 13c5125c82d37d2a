"""Small typed readers for carrier JSON. Every problem raises `BadPayload` with a field name only.

Messages never quote the body: they end up in logs and, via the 400, nowhere else.

What a carrier sends is stored as it came except where it cannot be (see `storable`): text
with a NUL or an unpaired surrogate (a `\\ud800` escape) has those characters replaced by
U+FFFD, the rest of the push being good; identifiers longer than their columns and times
outside the years the gateway handles fail the push with a 400, nothing stored, because
cutting an identifier or guessing a time would store something the carrier never said.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from gateway.domain.events import CanonicalEvent
from gateway.domain.moments import day_in_range, in_range
from gateway.domain.text import clean_text
from webhooks.base import BadPayload

MAX_TRACKING_NUMBER_CHARS: Final = 64  # shipments.tracking_number
MAX_STATUS_CODE_CHARS: Final = 64  # events.carrier_status_code
MAX_SIGNED_BY_CHARS: Final = 200  # events.signed_by
_OFFSET = re.compile(r"([+-])([0-9]{2})[.:]?([0-9]{2})")  # +05:30, -04.00, -0400
_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def load_json(body: bytes | str) -> Any:
    """`json.loads`, with every decoding failure turned into `BadPayload`."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadPayload("body is not JSON") from None


def obj(value: object, what: str) -> dict[str, Any]:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise BadPayload(f"{what} is not an object")
    return value


def optional_obj(container: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """`container[key]` as a JSON object, or None when absent or null."""
    value = container.get(key)
    return None if value is None else obj(value, key)


def objects(
    container: Mapping[str, Any], key: str, *, required: bool = True
) -> list[dict[str, Any]]:
    """`container[key]` as a list of JSON objects; absent gives [] unless `required`."""
    value = container.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise BadPayload(f"{key} is not a list")
    return [obj(item, f"{key}[]") for item in value]


def text(container: Mapping[str, Any], key: str) -> str:
    """`container[key]` as a string; absent or null gives "" (carriers send "" for absent)."""
    value = container.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadPayload(f"{key} is not a string")
    return clean_text(value)


def tracking_number(container: Mapping[str, Any], key: str) -> str:
    """The carrier's tracking number, trimmed and upper-cased; it must not be blank."""
    value = text(container, key).strip().upper()
    if not value:
        raise BadPayload(f"{key} is missing")
    if len(value) > MAX_TRACKING_NUMBER_CHARS:
        raise BadPayload(f"{key} is longer than {MAX_TRACKING_NUMBER_CHARS} characters")
    return value


def utc(moment: datetime) -> datetime:
    """A tz-aware moment in UTC, whole seconds (truncated)."""
    try:
        return moment.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # year 1 or 9999 pushed out of range by the offset
        raise BadPayload("time out of range") from None


def utc_from_iso(value: str, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO-8601 time with an offset (or, for fields documented as UTC, without one) in UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadPayload(f"{what} is not an ISO-8601 time") from None
    if moment.utcoffset() is None:
        if not naive_is_utc:
            raise BadPayload(f"{what} has no UTC offset")
        moment = moment.replace(tzinfo=UTC)
    return utc(moment)


def local_date(value: str, what: str) -> date | None:
    """The calendar date of an ISO date or local time with offset, never shifted; "" is None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise BadPayload(f"{what} is not an ISO-8601 date") from None


def utc_offset(value: str, what: str) -> timedelta:
    """`±HH.MM` (documented by UPS), `±HH:MM` or `±HHMM` as a timedelta; half hours allowed."""
    match = _OFFSET.fullmatch(value)
    if match is None or int(match[2]) > 18 or int(match[3]) > 59:
        raise BadPayload(f"{what} is not a UTC offset")
    offset = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return -offset if match[1] == "-" else offset


def image_data_url(value: str) -> str | None:
    """`data:<type>;base64,<value>` for base64 JPEG or PNG bytes; "" or anything else is None.

    The media type is sniffed from the decoded bytes, never trusted. A photo that isn't valid
    base64 or a known image is dropped rather than failing the whole delivery event, and it is
    never embedded, so the data URL cannot carry markup into the tracking page.
    """
    if not value or not value.isascii():
        return None
    try:
        image = binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error:
        return None
    for magic, media_type in _IMAGE_MAGIC:
        if image.startswith(magic):
            return f"data:{media_type};base64,{value}"
    return None


def storable(events: Sequence[CanonicalEvent]) -> list[CanonicalEvent]:
    """The events as they can be stored: a long signer's name is cut to its column.

    Raises:
        BadPayload: a status code longer than its column, or a time or date outside the
            years the gateway handles (gateway/domain/moments.py).
    """
    out = []
    for event in events:
        if len(event.carrier_status_code) > MAX_STATUS_CODE_CHARS:
            raise BadPayload(f"status code is longer than {MAX_STATUS_CODE_CHARS} characters")
        try:
            in_range(event.occurred_at)
            if event.estimated_delivery is not None:
                day_in_range(event.estimated_delivery)
        except ValueError:
            raise BadPayload("a time or date is out of range") from None
        if event.signed_by is not None and len(event.signed_by) > MAX_SIGNED_BY_CHARS:
            event = replace(event, signed_by=event.signed_by[:MAX_SIGNED_BY_CHARS])
        out.append(event)
    return out
