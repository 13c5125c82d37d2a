"""The three carrier auth schemes, each implemented once. Every failure raises `BadSignature`.

Each check first confirms that the connection is configured for its scheme, so a connection
set up for one scheme can never be verified by another. Secrets are compared as bytes with
`hmac.compare_digest`, trying every configured secret (two while a secret rotates). Empty
secrets never match, whatever the configuration says.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from datetime import datetime

from webhooks.base import AuthScheme, BadSignature, ConnectionAuth, header_value


def check_static_header(headers: Mapping[str, str], auth: ConnectionAuth) -> None:
    """The header `auth.header` must equal one of `auth.secrets`.

    Raises:
        BadSignature: wrong scheme, header missing, repeated, non-ASCII or not a secret.
    """
    given = _given(headers, auth, AuthScheme.STATIC_HEADER)
    for secret in auth.secrets:
        if secret and hmac.compare_digest(given, secret):
            return
    raise BadSignature()


def check_hmac_body(headers: Mapping[str, str], body: bytes, auth: ConnectionAuth) -> None:
    """The header must be Base64(HMAC-SHA256(secret, raw body)) for one of `auth.secrets`.

    Raises:
        BadSignature: wrong scheme, header missing or malformed, or no secret signs the body.
    """
    _check_hmac(_given(headers, auth, AuthScheme.HMAC_SHA256_BASE64), body, auth.secrets)


def check_hmac_ts_payload(
    headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime
) -> None:
    """USPS style: the header is Base64(HMAC-SHA256(secret, timestamp + payload)).

    `timestamp` and `payload` are the string values of the JSON envelope `body`; the
    timestamp must be tz-aware and within `auth.max_age_s` of `now` (tz-aware) either way.

    Raises:
        BadSignature: wrong scheme, header missing or malformed, envelope not a JSON object
            with string `timestamp` and `payload`, no secret signs them, or a stale timestamp.
    """
    given = _given(headers, auth, AuthScheme.HMAC_SHA256_BASE64_TS_PAYLOAD)
    timestamp, payload = _envelope(body)
    try:
        message = (timestamp + payload).encode()
    except UnicodeEncodeError:  # a lone surrogate from a `\ud800` escape
        raise BadSignature() from None
    _check_hmac(given, message, auth.secrets)
    _check_fresh(timestamp, now, auth.max_age_s)


def sign(secret: bytes, message: bytes) -> str:
    """Base64(HMAC-SHA256(secret, message)): what the HMAC schemes expect in the header."""
    return base64.b64encode(hmac.digest(secret, message, "sha256")).decode()


def _given(headers: Mapping[str, str], auth: ConnectionAuth, scheme: AuthScheme) -> bytes:
    if auth.scheme is not scheme:
        raise BadSignature()
    value = header_value(headers, auth.header)
    if value is None:
        raise BadSignature()
    value = value.strip(" \t")  # optional whitespace around a field value is not part of it
    if not value or not value.isascii():  # bytes: compare_digest rejects non-ASCII str
        raise BadSignature()
    return value.encode("ascii")


def _check_hmac(given: bytes, message: bytes, secrets: tuple[bytes, ...]) -> None:
    for secret in secrets:  # two while a secret is rotating
        if secret and hmac.compare_digest(
            given, base64.b64encode(hmac.digest(secret, message, "sha256"))
        ):
            return
    raise BadSignature()


def _envelope(body: bytes) -> tuple[str, str]:
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadSignature() from None
    if not isinstance(envelope, dict):
        raise BadSignature()
    timestamp, payload = envelope.get("timestamp"), envelope.get("payload")
    if not isinstance(timestamp, str) or not isinstance(payload, str):
        raise BadSignature()
    return timestamp, payload


def _check_fresh(timestamp: str, now: datetime, max_age_s: int) -> None:
    try:
        sent = datetime.fromisoformat(timestamp)
        if sent.tzinfo is None or sent.utcoffset() is None:
            raise BadSignature()
        age_s = abs((now - sent).total_seconds())
    except (ValueError, OverflowError):
        raise BadSignature() from None
    if age_s > max_age_s:
        raise BadSignature()
