"""Driver app tokens: HS256 JWTs (PyJWT) for one store and one driver, verified fail-closed.

Claims: `iss`, `aud`, `sub` (driver id), `tid` (tenant id), `ver` (the driver's token version:
a reset or a delete revokes every older token), `iat`, `exp`. The header's `kid` names the key in
`driver_keys` that signed it, so keys rotate without logging drivers out. Each key is a master
secret; the token key is derived from it, so the same row can sign proof links (`proof_links`)
without the two ever sharing a key.

Time is checked here against the caller's clock (tests pin it), not PyJWT's own.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import jwt

ALGORITHM: Final = "HS256"
ISSUER: Final = "lastmile"
AUDIENCE: Final = "lastmile-driver"
TOKEN_LIFETIME: Final = timedelta(days=90)
MAX_TOKEN_CHARS: Final = 2048
MAX_KID_CHARS: Final = 16
_REQUIRED: Final = ["iss", "aud", "sub", "tid", "ver", "iat", "exp"]
# Verified against when the kid is unknown, so a miss costs what a wrong signature costs.
_UNKNOWN_KEY: Final = b"\x00" * 32


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A key for one purpose (`b"driver-token"`, `b"proof-link"`) from a master secret."""
    return hmac.digest(secret, b"lastmile\x00" + purpose, "sha256")


def token_key(secret: bytes) -> bytes:
    return derive_key(secret, b"driver-token")


@dataclass(frozen=True, slots=True)
class DriverClaims:
    driver_id: str
    tenant_id: str
    version: int
    kid: str
    expires_at: datetime


def mint(
    secret: bytes,
    kid: str,
    *,
    driver_id: str,
    tenant_id: str,
    version: int,
    now: datetime,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> tuple[str, datetime]:
    """A token and its expiry, signed with the key derived from `secret`."""
    issued = int(now.timestamp())
    expires_at = datetime.fromtimestamp(issued, UTC) + lifetime
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": driver_id,
        "tid": tenant_id,
        "ver": version,
        "iat": issued,
        "exp": int(expires_at.timestamp()),
    }
    token = jwt.encode(claims, token_key(secret), algorithm=ALGORITHM, headers={"kid": kid})
    return token, expires_at


def claimed_kid(token: str) -> str | None:
    """The key id a token names, unverified (to look the key up), or None if unreadable."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return kid if isinstance(kid, str) and 0 < len(kid) <= MAX_KID_CHARS else None


def verify(token: str, secrets: Mapping[str, bytes], now: datetime) -> DriverClaims | None:
    """The claims of a token signed by one of `secrets` (by kid) and valid at `now`, else None.

    Never raises for a bad token: every failure (format, algorithm, signature, claims, time)
    is None, so a caller cannot leak which check failed.
    """
    kid = claimed_kid(token)
    secret = secrets.get(kid) if kid else None
    key = token_key(secret) if secret is not None else _UNKNOWN_KEY
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # never `none`, never an algorithm the token picks
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
        parsed = _parsed(claims, kid or "")
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError, OSError):
        return None
    if secret is None or parsed is None:
        return None
    issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
    if now >= parsed.expires_at or issued_at > now + timedelta(minutes=5):
        return None
    return parsed


def _parsed(claims: Mapping[str, object], kid: str) -> DriverClaims | None:
    sub, tid, ver, exp = claims["sub"], claims["tid"], claims["ver"], claims["exp"]
    if not (isinstance(sub, str) and isinstance(tid, str) and sub and tid):
        return None
    if type(ver) is not int or not isinstance(exp, int | float):
        return None
    return DriverClaims(sub, tid, ver, kid, datetime.fromtimestamp(int(exp), UTC))
