"""Every provider channel through the same cases, against the fake providers (no SDK mocks)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from channels.base import (
    Channel,
    Message,
    OutboundEmail,
    OutboundPush,
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    RetryableSendError,
    SendError,
)
from channels.registry import build_channels, close_channels
from channels.twilio_sms import TwilioSMS
from gateway.platform.settings import Settings
from tests.fakes.fake_google import generate_service_account_key
from tests.fakes.fake_providers import SENDGRID_FROM, TWILIO_FROM_NUMBER, FakeProviders

BODY = "Your Acme parcel is out for delivery 🚚 — track: https://t.example/abc"


@dataclass(frozen=True)
class Seen:
    """What a fake received, the same shape for every provider."""

    provider_id: str
    authenticated: bool  # the credentials the fake expects, sent as the real API wants them
    recipient: str
    text: str


def _sms(to: str) -> Message:
    return OutboundSMS(to=to, body=BODY, status_callback_url="http://gateway.test/cb/twilio")


def _email(to: str) -> Message:
    return OutboundEmail(
        to=to,
        subject="Out for delivery",
        text=BODY,
        html=f"<p>{BODY}</p>",
        custom_args={"notification_id": "nt_1"},
    )


def _push(token: str) -> Message:
    return OutboundPush(token=token, title="Out for delivery", body=BODY, data={"id": "nt_1"})


def _twilio_seen(fakes: FakeProviders) -> list[Seen]:
    fake = fakes.twilio
    return [
        Seen(
            r.sid,
            (r.auth_user, r.auth_password) == (fake.account_sid, fake.auth_token),
            r.to,
            r.body,
        )
        for r in fake.requests
    ]


def _sendgrid_seen(fakes: FakeProviders) -> list[Seen]:
    auth = f"Bearer {fakes.sendgrid.api_key}"
    return [
        Seen(r.message_id, r.authorization == auth, ",".join(r.to), r.text)
        for r in fakes.sendgrid.requests
    ]


def _fcm_seen(fakes: FakeProviders) -> list[Seen]:
    issued = {f"Bearer {token}" for token in fakes.google.issued_tokens}
    return [
        Seen(r.name, r.authorization in issued, r.target, r.body or "")
        for r in fakes.google.requests
    ]


@dataclass(frozen=True)
class Spec:
    kind: str
    recipient: str
    message: Callable[[str], Message]
    seen: Callable[[FakeProviders], list[Seen]]
    unreachable_code: str

    def __str__(self) -> str:
        return self.kind


SPECS = [
    Spec("sms", "+15550100001", _sms, _twilio_seen, "twilio_unreachable"),
    Spec("email", "jane@example.com", _email, _sendgrid_seen, "sendgrid_unreachable"),
    Spec("push", "dGVzdA:APA91bF-registration-token", _push, _fcm_seen, "fcm_unavailable"),
]
SPEC = {spec.kind: spec for spec in SPECS}


@pytest.fixture
async def channels(bare_provider_settings: Settings) -> AsyncIterator[dict[str, Channel]]:
    built = build_channels(bare_provider_settings)
    yield built
    await close_channels(built)


def _fail_next(fakes: FakeProviders, kind: str, count: int) -> None:
    fail_next = {
        "sms": fakes.twilio.fail_next,
        "email": fakes.sendgrid.fail_next,
        "push": fakes.google.fail_next,
    }[kind]
    fail_next(count)


@pytest.mark.parametrize("spec", SPECS, ids=str)
async def test_send_reaches_the_provider_exactly_as_sent(
    spec: Spec, channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    receipt = await channels[spec.kind].send(spec.message(spec.recipient))

    assert spec.seen(fake_providers) == [Seen(receipt.provider_id, True, spec.recipient, BODY)]


async def test_twilio_gets_sender_and_status_callback(
    channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    receipt = await channels["sms"].send(_sms("+15550100001"))

    (request,) = fake_providers.twilio.requests
    assert receipt.provider_id.startswith("SM")
    assert request.from_ == TWILIO_FROM_NUMBER
    assert request.status_callback == "http://gateway.test/cb/twilio"


async def test_sendgrid_gets_both_parts_and_custom_args(
    channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    await channels["email"].send(_email("jane@example.com"))

    (request,) = fake_providers.sendgrid.requests
    assert [part["type"] for part in request.body["content"]] == ["text/plain", "text/html"]
    assert (request.from_name, request.from_email) == ("Lastmile Demo", "notify@lastmile.test")
    assert SENDGRID_FROM.endswith(f"<{request.from_email}>")
    assert request.subject == "Out for delivery"
    assert request.html == f"<p>{BODY}</p>"
    assert request.custom_args == {"notification_id": "nt_1"}


@pytest.mark.parametrize(
    ("token", "target_kind"),
    [("dGVzdA:APA91bF-registration-token", "token"), ("cAbCdEfGhIjKlMnOpQrStU", "fid")],
)
async def test_fcm_targets_registration_tokens_and_installation_ids(
    token: str, target_kind: str, channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    receipt = await channels["push"].send(_push(token))

    (request,) = fake_providers.google.requests
    assert (request.target_kind, request.target) == (target_kind, token)
    assert (request.title, request.data) == ("Out for delivery", {"id": "nt_1"})
    assert receipt.provider_id.startswith("projects/lastmile-test/messages/")
    assert fake_providers.google.token_requests == 1


# (kind, magic recipient, error type, code, retry_after_s, unsubscribed, invalid_recipient)
FAILURES = [
    ("sms", "+15550100429", RetryableSendError, "twilio_20429", 7.0, False, False),
    ("sms", "+15550100500", RetryableSendError, "twilio_20500", None, False, False),
    ("sms", "+15550101211", PermanentSendError, "twilio_21211", None, False, True),
    ("sms", "+15550101614", PermanentSendError, "twilio_21614", None, False, True),
    ("sms", "+15550101610", PermanentSendError, "twilio_21610", None, True, False),
    ("email", "jane+429@example.com", RetryableSendError, "sendgrid_429", 11.0, False, False),
    ("email", "jane+500@example.com", RetryableSendError, "sendgrid_500", None, False, False),
    ("email", "jane+400@example.com", PermanentSendError, "sendgrid_400", None, False, False),
    ("push", "unregistered:APA91b", PermanentSendError, "fcm_unregistered", None, False, True),
    ("push", "invalid:APA91b", PermanentSendError, "fcm_invalid_argument", None, False, False),
    ("push", "mismatch:APA91b", PermanentSendError, "fcm_sender_id_mismatch", None, False, False),
    ("push", "unavailable:APA91b", RetryableSendError, "fcm_unavailable", 13.0, False, False),
    ("push", "internal:APA91b", RetryableSendError, "fcm_internal", None, False, False),
    ("push", "quota:APA91b", RetryableSendError, "fcm_quota_exceeded", 13.0, False, False),
]


@pytest.mark.parametrize(
    ("kind", "recipient", "error", "code", "retry_after_s", "unsubscribed", "invalid"),
    FAILURES,
    ids=[case[3] for case in FAILURES],
)
async def test_provider_failure_maps_to_error_type_and_code(
    kind: str,
    recipient: str,
    error: type[SendError],
    code: str,
    retry_after_s: float | None,
    unsubscribed: bool,
    invalid: bool,
    channels: dict[str, Channel],
    fake_providers: FakeProviders,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(error) as caught:
        await channels[kind].send(SPEC[kind].message(recipient))

    exc = caught.value
    assert (exc.code, exc.retry_after_s) == (code, retry_after_s)
    if isinstance(exc, PermanentSendError):
        assert (exc.unsubscribed, exc.invalid_recipient) == (unsubscribed, invalid)
    assert SPEC[kind].seen(fake_providers) == []
    # Neither the error nor any log line (ours or the SDKs') carries the address or the text.
    for text in (str(exc), repr(exc), caplog.text):
        assert recipient not in text and BODY not in text
    assert exc.__cause__ is None and exc.__suppress_context__


@pytest.mark.parametrize("spec", SPECS, ids=str)
async def test_two_server_errors_then_success(
    spec: Spec, channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    _fail_next(fake_providers, spec.kind, 2)
    channel = channels[spec.kind]

    for _ in range(2):
        with pytest.raises(RetryableSendError):
            await channel.send(spec.message(spec.recipient))
    receipt = await channel.send(spec.message(spec.recipient))

    assert spec.seen(fake_providers) == [Seen(receipt.provider_id, True, spec.recipient, BODY)]


def _wrong_credentials(settings: Settings, tmp_path: Path) -> Settings:
    """Wrong Twilio token, wrong SendGrid key, and a key the fake Google does not know."""
    assert settings.google_application_credentials
    real = json.loads(Path(settings.google_application_credentials).read_text())
    other = tmp_path / "other-account.json"
    other.write_text(json.dumps(generate_service_account_key().info(real["token_uri"])))
    return settings.model_copy(
        update={
            "twilio_auth_token": SecretStr("wrong-token"),
            "sendgrid_api_key": SecretStr("SG.wrong"),
            "google_application_credentials": str(other),
        }
    )


@pytest.mark.parametrize(
    ("kind", "code"),
    [("sms", "twilio_20003"), ("email", "sendgrid_401"), ("push", "fcm_auth_failed")],
)
async def test_wrong_credentials_are_permanent(
    kind: str, code: str, bare_provider_settings: Settings, tmp_path: Path
) -> None:
    channels = build_channels(_wrong_credentials(bare_provider_settings, tmp_path))
    try:
        with pytest.raises(PermanentSendError) as caught:
            await channels[kind].send(SPEC[kind].message(SPEC[kind].recipient))
    finally:
        await close_channels(channels)
    assert caught.value.code == code


@pytest.mark.parametrize("spec", SPECS, ids=str)
async def test_unreachable_provider_is_retryable(
    spec: Spec, bare_provider_settings: Settings
) -> None:
    dead = "http://127.0.0.1:9"  # discard port: connection refused
    settings = bare_provider_settings.model_copy(
        update={"twilio_base_url": dead, "sendgrid_base_url": dead, "fcm_base_url": dead}
    )
    channels = build_channels(settings)
    try:
        with pytest.raises(RetryableSendError) as caught:
            await channels[spec.kind].send(spec.message(spec.recipient))
    finally:
        await close_channels(channels)
    assert caught.value.code == spec.unreachable_code


async def test_twilio_timeout_after_the_request_is_an_unknown_outcome(
    bare_provider_settings: Settings, fake_providers: FakeProviders
) -> None:
    """Twilio took the request (the SMS is out) but answered too late: sending again could
    text the customer twice, so the channel says "unknown", not "retry"."""
    fake_providers.twilio.stall_s = 2.0
    settings = bare_provider_settings
    assert settings.twilio_auth_token is not None
    channel = TwilioSMS(
        account_sid=fake_providers.twilio.account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        from_number=TWILIO_FROM_NUMBER,
        base_url=fake_providers.twilio_url,
        timeout_s=0.3,
    )
    try:
        with pytest.raises(OutcomeUnknownError) as caught:
            await channel.send(_sms("+15550100408"))
    finally:
        await channel.close()
    assert caught.value.code == "twilio_no_answer"
    assert [r.to for r in fake_providers.twilio.requests] == ["+15550100408"]


async def test_sms_over_twilio_limit_is_refused_before_sending(
    channels: dict[str, Channel], fake_providers: FakeProviders
) -> None:
    with pytest.raises(PermanentSendError) as caught:
        await channels["sms"].send(OutboundSMS(to="+15550100001", body="x" * 1601))

    assert caught.value.code == "twilio_body_too_long"
    assert fake_providers.twilio.attempts == 0


@pytest.mark.parametrize("kind", ["sms", "email", "push"])
async def test_a_channel_refuses_another_kind_of_message(
    kind: str, channels: dict[str, Channel]
) -> None:
    other = _email("a@example.com") if kind != "email" else _sms("+15550100001")
    with pytest.raises(TypeError):
        await channels[kind].send(other)
