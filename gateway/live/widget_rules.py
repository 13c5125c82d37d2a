"""Widget tokens, pure: the token itself, what is stored of it, the origin it is issued for.

A widget token is `wt_` + 32 url-safe characters from `secrets` (192 bits): an opaque id that
says nothing about the shipment, looked up by its SHA-256 in `widget_tokens`. It opens one
shipment's widget for one origin until it expires (an hour by default).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

PREFIX: Final = "wt_"
TOKEN_BYTES: Final = 24  # 192 bits; 32 characters of base64url
MIN_TTL: Final = timedelta(minutes=1)
MAX_TTL: Final = timedelta(hours=24)  # short-lived: a store page asks for a new one per view
MAX_ORIGIN_CHARS: Final = 300  # widget_tokens.origin
_SHAPE: Final = re.compile(r"wt_[A-Za-z0-9_-]{32}")
_LABEL: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})


class BadOrigin(ValueError):
    """The origin is not `scheme://host[:port]` or not allowed; the message says why."""


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def is_token(text: str) -> bool:
    """Shaped like a widget token: anything else is refused before a lookup."""
    return _SHAPE.fullmatch(text) is not None


def token_hash(token: str) -> str:
    """What the database keeps: 192 random bits need no salt or slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_origin(raw: str, *, dev: bool) -> str:
    """The origin as browsers send it in `Origin`: lower-case scheme and host, no default port.

    https only; `LASTMILE_DEV` also allows http://localhost and http://127.0.0.1 (any port).
    Raises BadOrigin (a path, query, user info, a bad host or port, plain http elsewhere).
    """
    text = raw.strip()
    if len(text) > MAX_ORIGIN_CHARS or not text.isascii() or any(c.isspace() for c in text):
        raise BadOrigin("must be scheme://host[:port] in ASCII (punycode for other names)")
    parts = urlsplit(text)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise BadOrigin("must be scheme://host[:port] with scheme https")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise BadOrigin("must be scheme://host[:port] only: no path, query or user")
    try:
        port = parts.port
    except ValueError:
        raise BadOrigin("has an invalid port") from None
    host = _host(parts.hostname or "")
    if parts.scheme == "http" and not (dev and host in _LOOPBACK_NAMES):
        raise BadOrigin("must use https (http only for localhost with LASTMILE_DEV)")
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def _host(hostname: str) -> str:
    """The host as it appears in an origin (IPv6 in brackets); raises BadOrigin."""
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        labels = hostname.rstrip(".").split(".") if hostname else []
        if not labels or not all(_LABEL.fullmatch(label) for label in labels):
            raise BadOrigin("has an invalid host") from None
        return ".".join(labels)
    return f"[{address.compressed}]" if address.version == 6 else str(address)
