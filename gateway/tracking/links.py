"""Signed tracking-link tokens: verifiable without a database hit, revocable by generation.

A token is `base64url(payload).base64url(tag)` where payload is `kid|shipment_id|generation|exp`
and tag is HMAC-SHA256(key[kid], payload) cut to 128 bits. The key id lets keys rotate; the
generation is compared with the shipment's `link_generation`, which revoking increments.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

TAG_BYTES: Final = 16
# Upper bound baked into every token; a delivered shipment's links end `AFTER_DELIVERY` later.
TOKEN_LIFETIME: Final = timedelta(days=90)
AFTER_DELIVERY: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class LinkClaims:
    kid: str
    shipment_id: str
    generation: int
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(key: bytes, kid: str, shipment_id: str, generation: int, expires_at: datetime) -> str:
    payload = f"{kid}|{shipment_id}|{generation}|{int(expires_at.timestamp())}".encode()
    tag = hmac.digest(key, payload, "sha256")[:TAG_BYTES]
    return f"{_b64(payload)}.{_b64(tag)}"


def expiry(now: datetime, delivered_at: datetime | None) -> datetime:
    """When a token minted `now` ends: 90 days on, or 30 days after delivery if sooner."""
    ends = now + TOKEN_LIFETIME
    if delivered_at is not None:
        ends = min(ends, delivered_at + AFTER_DELIVERY)
    return ends.replace(microsecond=0)


def delivered_long_ago(delivered_at: datetime | None, now: datetime) -> bool:
    """The page stops answering 30 days after delivery, whatever the token says."""
    return delivered_at is not None and now >= delivered_at + AFTER_DELIVERY


def key_id(token: str) -> str | None:
    """The kid a token claims, unverified (to pick or reload the key), or None if unreadable."""
    try:
        kid = _unb64(token.partition(".")[0]).decode().split("|", 1)[0]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return kid or None


def verify(token: str, keys: Mapping[str, bytes], now: datetime) -> LinkClaims | None:
    """The claims of a well-signed, unexpired token, else None (for every kind of bad token)."""
    try:
        payload_part, _, tag_part = token.partition(".")
        payload, tag = _unb64(payload_part), _unb64(tag_part)
        kid, shipment_id, generation, exp = payload.decode().split("|")
        key = keys.get(kid)
        expected = hmac.digest(key or b"\0" * 32, payload, "sha256")[:TAG_BYTES]
        if key is None or not hmac.compare_digest(expected, tag):
            return None
        expires_at = datetime.fromtimestamp(int(exp), UTC)
        claims = LinkClaims(kid, shipment_id, int(generation), expires_at)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        return None
    return claims if now < claims.expires_at else None
