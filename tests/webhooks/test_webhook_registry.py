"""The carrier registry and the connection auth built from a merchant's `auth` object."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webhooks.carrier_fixtures import CARRIER_NAMES, CASES
from webhooks import dhl, fedex, ups, usps
from webhooks.base import AuthScheme, ConnectionAuth
from webhooks.registry import CARRIERS, InvalidAuthConfig, auth_from_config

GOOD = {
    "ups": {"scheme": "static_header", "header": "credential", "secret": "ups-credential-0001"},
    "fedex": {
        "scheme": "hmac_sha256_base64",
        "header": "fdx-signature",
        "secret": "fedex-s3cret-0123456",
    },
    "usps": {
        "scheme": "hmac_sha256_base64_ts_payload",
        "header": "X-HMAC",
        "secret": "usps-s3cret-01234567",
    },
    "dhl": {"scheme": "static_header", "header": "DHL-API-Key", "secret": "dhl-api-key-000001"},
}


def test_registry_is_the_four_modules() -> None:
    assert dict(CARRIERS) == {"ups": ups, "fedex": fedex, "usps": usps, "dhl": dhl}
    for name, adapter in CARRIERS.items():
        assert name == adapter.CARRIER
        assert isinstance(adapter.AUTH_SCHEME, AuthScheme)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_fixture_auth_object_is_accepted(case: Any) -> None:
    auth = auth_from_config(case.carrier, case.auth)
    assert auth.scheme.value == case.auth["scheme"]
    assert auth.header == case.auth["header"]
    assert auth.secrets == (case.auth["secret"].encode(),)


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
def test_header_defaults_to_the_carriers_and_secrets_rotate(carrier: str) -> None:
    config = {
        "scheme": GOOD[carrier]["scheme"],
        "secrets": ["old-secret-0123456", "new-secret-0123456"],
    }
    auth = auth_from_config(carrier, config)
    assert auth == ConnectionAuth(
        scheme=CARRIERS[carrier].AUTH_SCHEME,
        header=CARRIERS[carrier].HEADER,
        secrets=(b"old-secret-0123456", b"new-secret-0123456"),
    )


def test_repr_and_error_messages_never_show_a_secret() -> None:
    auth = auth_from_config("fedex", GOOD["fedex"])
    assert "fedex-s3cret-0123456" not in repr(auth)
    assert "fedex-s3cret-0123456" not in str(auth)
    with pytest.raises(InvalidAuthConfig) as exc_info:
        auth_from_config("ups", GOOD["ups"] | {"secret": " ups-credential-0001"})
    assert "ups-credential-0001" not in str(exc_info.value)


@pytest.mark.parametrize(
    ("carrier", "config"),
    [
        ("ontrac", GOOD["ups"]),  # unknown carrier
        ("UPS", GOOD["ups"]),  # carrier ids are lower case
        ("ups", None),
        ("ups", ["static_header"]),
        ("ups", "static_header"),
        ("ups", {"header": "credential", "secret": "x"}),  # no scheme
        ("ups", GOOD["ups"] | {"scheme": "hmac_sha256_base64"}),  # not UPS's scheme
        ("fedex", GOOD["fedex"] | {"scheme": "static_header"}),  # would skip the HMAC
        ("usps", GOOD["usps"] | {"scheme": "hmac_sha256_base64"}),
        ("dhl", GOOD["dhl"] | {"scheme": "STATIC_HEADER"}),
        ("ups", GOOD["ups"] | {"scheme": "none"}),
        ("ups", GOOD["ups"] | {"header": ""}),
        ("ups", GOOD["ups"] | {"header": "bad header"}),
        ("ups", GOOD["ups"] | {"header": "crédential"}),
        ("ups", GOOD["ups"] | {"header": 7}),
        ("ups", {"scheme": "static_header", "header": "credential"}),  # no secret
        ("ups", GOOD["ups"] | {"secret": ""}),
        ("ups", GOOD["ups"] | {"secret": None}),
        ("ups", GOOD["ups"] | {"secret": 12345}),
        ("ups", GOOD["ups"] | {"secret": "x" * 1025}),
        ("ups", GOOD["ups"] | {"secret": "crédential"}),  # a header value is ASCII
        ("dhl", GOOD["dhl"] | {"secret": "key\n"}),
        ("fedex", GOOD["fedex"] | {"secret": "\ud800"}),
        ("fedex", GOOD["fedex"] | {"secrets": ["a", "b"]}),  # both secret and secrets
        ("fedex", {"scheme": "hmac_sha256_base64", "secrets": []}),
        ("fedex", {"scheme": "hmac_sha256_base64", "secrets": ["a", "b", "c"]}),
        ("fedex", {"scheme": "hmac_sha256_base64", "secrets": "ab"}),
        ("fedex", {"scheme": "hmac_sha256_base64", "secrets": ["a", ""]}),
        ("fedex", GOOD["fedex"] | {"max_age_s": 10}),  # unknown field: probably a typo
        ("fedex", {"scheme": "hmac_sha256_base64", "secert": "fedex-s3cret-0123456"}),
    ],
)
def test_invalid_config_is_rejected_clearly(carrier: str, config: Any) -> None:
    with pytest.raises(InvalidAuthConfig) as exc_info:
        auth_from_config(carrier, config)
    assert isinstance(exc_info.value, ValueError)
    assert str(exc_info.value)


def test_hmac_secrets_may_be_any_text() -> None:
    auth = auth_from_config("fedex", GOOD["fedex"] | {"secret": " clé secrète du magasin "})
    assert auth.secrets == (" clé secrète du magasin ".encode(),)
