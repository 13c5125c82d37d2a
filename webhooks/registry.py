"""The carriers the gateway accepts, and the connection auth built from a merchant's config."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from webhooks import dhl, fedex, ups, usps
from webhooks.base import AuthScheme, CarrierAdapter, ConnectionAuth

# One line per carrier; nothing is discovered by scanning modules.
CARRIERS: Final[Mapping[str, CarrierAdapter]] = {
    "ups": ups,
    "fedex": fedex,
    "usps": usps,
    "dhl": dhl,
}

MAX_SECRETS: Final = 2  # the current secret and, while rotating, the next one
MIN_SECRET_BYTES: Final = 16  # 128 bits: a placeholder like "..." is never a credential
MAX_SECRET_CHARS: Final = 1024
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # RFC 9110 field name
_KEYS: Final = frozenset({"scheme", "header", "secret", "secrets"})


class InvalidAuthConfig(ValueError):
    """A carrier connection's `auth` object is unusable. The message never contains a secret."""


def auth_from_config(carrier: str, config: object) -> ConnectionAuth:
    """The `ConnectionAuth` for `{"scheme", "header"?, "secret"}` or `{..., "secrets": [..]}`.

    `scheme` must be the carrier's scheme; `header` defaults to the carrier's header;
    `secrets` (one or two, for rotation) replaces `secret`.

    Raises:
        InvalidAuthConfig: unknown carrier, not an object, unknown keys, wrong scheme,
            bad header name, or a missing, short (under MIN_SECRET_BYTES) or unusable secret;
            the message names the field (`secret`, `secrets[1]`, ...).
    """
    adapter = CARRIERS.get(carrier)
    if adapter is None:
        raise InvalidAuthConfig(f"unknown carrier {carrier!r}")
    if not isinstance(config, Mapping):
        raise InvalidAuthConfig("auth must be an object")
    unknown = sorted(str(key) for key in config if key not in _KEYS)
    if unknown:
        raise InvalidAuthConfig(f"unknown auth fields: {', '.join(unknown)}")
    scheme = config.get("scheme")
    if scheme != adapter.AUTH_SCHEME.value:
        raise InvalidAuthConfig(f"{carrier} requires scheme {adapter.AUTH_SCHEME.value!r}")
    header = config.get("header", adapter.HEADER)
    if not isinstance(header, str) or not _TOKEN.fullmatch(header):
        raise InvalidAuthConfig("header must be an HTTP header name")
    secrets = tuple(
        _secret(value, field, adapter.AUTH_SCHEME) for field, value in _secret_values(config)
    )
    return ConnectionAuth(scheme=adapter.AUTH_SCHEME, header=header, secrets=secrets)


def _secret_values(config: Mapping[object, object]) -> list[tuple[str, object]]:
    """(field name, value) of each secret given."""
    if ("secret" in config) == ("secrets" in config):
        raise InvalidAuthConfig("give exactly one of secret or secrets")
    if "secret" in config:
        return [("secret", config["secret"])]
    values = config["secrets"]
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_SECRETS:
        raise InvalidAuthConfig(f"secrets must be a list of 1 to {MAX_SECRETS} secrets")
    return [(f"secrets[{i}]", value) for i, value in enumerate(values)]


def _secret(value: object, field: str, scheme: AuthScheme) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidAuthConfig(f"{field} must be a non-empty string")
    if len(value) > MAX_SECRET_CHARS:
        raise InvalidAuthConfig(f"{field} is longer than {MAX_SECRET_CHARS} characters")
    if scheme is AuthScheme.STATIC_HEADER and not (
        value.isascii() and value.isprintable() and value == value.strip()
    ):  # it is compared with a header value: visible ASCII, no surrounding spaces
        raise InvalidAuthConfig(
            f"{field} must be printable ASCII, not space-padded (static_header)"
        )
    try:
        secret = value.encode()
    except UnicodeEncodeError:  # a lone surrogate
        raise InvalidAuthConfig(f"{field} is not valid Unicode") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidAuthConfig(f"{field} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret
