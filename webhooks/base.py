"""What every carrier adapter shares: connection auth, the two failure types, the adapter shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from gateway.domain.events import CanonicalEvent, Status


class AuthScheme(StrEnum):
    STATIC_HEADER = "static_header"
    HMAC_SHA256_BASE64 = "hmac_sha256_base64"
    HMAC_SHA256_BASE64_TS_PAYLOAD = "hmac_sha256_base64_ts_payload"


@dataclass(frozen=True, slots=True)
class ConnectionAuth:
    """A carrier connection's credentials. `secrets` holds two entries while a secret rotates."""

    scheme: AuthScheme
    header: str
    secrets: tuple[bytes, ...] = field(repr=False)
    max_age_s: int = 24 * 3600  # freshness window for schemes that sign a timestamp

    def __repr__(self) -> str:  # never print a secret
        return f"ConnectionAuth(scheme={self.scheme.value!r}, header={self.header!r}, secrets=***)"


class BadSignature(Exception):
    """Any authentication failure. The handler answers 401 and never says which check failed."""


class BadPayload(Exception):
    """The request authenticated but its body cannot be turned into events (400)."""


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The one value of header `name`, matched case-insensitively; None if absent or repeated.

    Works for a plain dict (fixtures) and for aiohttp's `CIMultiDictProxy`, whose `items()`
    yields a repeated header once per occurrence. A repeated auth header is ambiguous, so the
    caller sees it as missing and fails closed.
    """
    wanted = name.lower()
    found: str | None = None
    for key, value in headers.items():
        if key.lower() == wanted:
            if found is not None:
                return None
            found = value
    return found


class CarrierAdapter(Protocol):
    """The shape of a `webhooks/<carrier>.py` module."""

    CARRIER: str
    AUTH_SCHEME: AuthScheme
    HEADER: str  # the auth header the carrier sends; a connection may configure another
    STATUS: Mapping[str, Status]

    def verify(
        self, headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime
    ) -> None: ...

    def parse(self, body: bytes) -> Sequence[CanonicalEvent]: ...
