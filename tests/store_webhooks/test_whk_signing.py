"""Signatures verify with both public Standard Webhooks libraries; tampering is caught."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as stdwh
import svix.webhooks as svix

from gateway.store_webhooks import signing

BODY = '{"type":"shipment.status_changed","timestamp":"2026-01-01T00:00:00Z","data":{}}'


def _verifiers(secret: str) -> list[object]:
    return [stdwh.Webhook(secret), svix.Webhook(secret)]


def test_secret_is_whsec_and_base64_of_enough_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert signing.new_secret() != secret


@pytest.mark.parametrize("library", ["standardwebhooks", "svix"])
def test_signature_verifies(library: str) -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    verifier = stdwh.Webhook(secret) if library == "standardwebhooks" else svix.Webhook(secret)
    verifier.verify(BODY, headers)  # raises on a bad signature


def test_signature_matches_the_reference_implementation() -> None:
    secret = signing.new_secret()
    stamp = int(time.time())
    ours = signing.sign(secret, "msg_1", stamp, BODY)
    theirs = stdwh.Webhook(secret).sign("msg_1", datetime.fromtimestamp(stamp, UTC), BODY)
    assert ours == theirs


@pytest.mark.parametrize("index", [0, 1])
def test_tampered_body_fails_in_both_libraries(index: int) -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    verifier = _verifiers(secret)[index]
    with pytest.raises((stdwh.WebhookVerificationError, svix.WebhookVerificationError)):
        verifier.verify(BODY.replace("{}", '{"x":1}'), headers)  # type: ignore[attr-defined]


@pytest.mark.parametrize("index", [0, 1])
def test_old_timestamp_fails_in_both_libraries(index: int) -> None:
    secret = signing.new_secret()
    old = int(time.time()) - 3600
    headers = signing.headers([secret], "msg_1", old, BODY)
    verifier = _verifiers(secret)[index]
    with pytest.raises((stdwh.WebhookVerificationError, svix.WebhookVerificationError)):
        verifier.verify(BODY, headers)  # type: ignore[attr-defined]


@pytest.mark.parametrize("index", [0, 1])
def test_during_rotation_either_secret_verifies(index: int) -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "msg_1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        _verifiers(secret)[index].verify(BODY, headers)  # type: ignore[attr-defined]
    with pytest.raises((stdwh.WebhookVerificationError, svix.WebhookVerificationError)):
        _verifiers(signing.new_secret())[index].verify(BODY, headers)  # type: ignore[attr-defined]
