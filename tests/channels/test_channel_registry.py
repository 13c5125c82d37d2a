"""build_channels: the right channel per kind, and clear start-up errors for missing credentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from channels.base import ChannelConfigError, Message, OutboundSMS, Receipt
from channels.console import ConsoleChannel
from channels.fcm_push import FCMPush
from channels.registry import build_channels, close_channels
from channels.sendgrid_email import SendGridEmail
from channels.twilio_sms import TwilioSMS
from gateway.platform.settings import Settings, SettingsError, load_settings
from tests.fakes.fake_providers import FakeProviders


async def test_console_by_default_for_every_kind() -> None:
    channels = build_channels(load_settings({}))

    assert set(channels) == {"sms", "email", "push"}
    assert all(isinstance(c, ConsoleChannel) for c in channels.values())
    assert len({id(c) for c in channels.values()}) == 1  # one outbox for all kinds


async def test_providers_take_their_kind(bare_provider_settings: Settings) -> None:
    channels = build_channels(bare_provider_settings)
    try:
        assert isinstance(channels["sms"], TwilioSMS)
        assert isinstance(channels["email"], SendGridEmail)
        assert isinstance(channels["push"], FCMPush)
    finally:
        await close_channels(channels)


async def test_console_fills_what_no_provider_took(fake_providers: FakeProviders) -> None:
    console = ConsoleChannel()
    environ = fake_providers.environ() | {"LASTMILE_CHANNELS": "console,twilio"}

    channels = build_channels(load_settings(environ), console=console)

    assert isinstance(channels["sms"], TwilioSMS)
    assert channels["email"] is console and channels["push"] is console
    await close_channels(channels)


async def test_channels_built_from_the_environment_send(fake_providers: FakeProviders) -> None:
    channels = build_channels(load_settings(fake_providers.environ()))
    try:
        receipt = await channels["sms"].send(OutboundSMS(to="+15550100001", body="hi"))
    finally:
        await close_channels(channels)
    assert [r.sid for r in fake_providers.twilio.requests] == [receipt.provider_id]


SECRETS = {
    "TWILIO_AUTH_TOKEN": "tw-secret-value",
    "SENDGRID_API_KEY": "SG.secret-value",
}


@pytest.mark.parametrize(
    ("channels", "missing"),
    [
        ("twilio", "TWILIO_ACCOUNT_SID"),
        ("twilio", "TWILIO_AUTH_TOKEN"),
        ("twilio", "TWILIO_FROM_NUMBER"),
        ("sendgrid", "SENDGRID_API_KEY"),
        ("sendgrid", "SENDGRID_FROM"),
        ("fcm", "GOOGLE_APPLICATION_CREDENTIALS"),
    ],
)
def test_missing_credential_names_the_variable(channels: str, missing: str) -> None:
    environ = {
        "LASTMILE_CHANNELS": channels,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "SENDGRID_FROM": "shop@example.com",
        "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json",
        **SECRETS,
    }
    del environ[missing]

    with pytest.raises(ChannelConfigError) as caught:
        build_channels(load_settings(environ))

    assert missing in str(caught.value)
    assert isinstance(caught.value, SettingsError)  # `lastmile` reports it like any bad setting
    assert not any(secret in str(caught.value) for secret in SECRETS.values())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        ("{not json", "not JSON"),
        (json.dumps({"type": "authorized_user", "client_secret": "s3cret"}), "service-account"),
        (json.dumps({"type": "service_account", "private_key": "s3cret"}), "lacks project_id"),
    ],
)
def test_unusable_service_account_file_is_named_not_quoted(
    content: str | None, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(ChannelConfigError) as caught:
        FCMPush(credentials_path=str(path))

    message = str(caught.value)
    assert message.startswith("GOOGLE_APPLICATION_CREDENTIALS") and problem in message
    assert "s3cret" not in message


def test_bad_private_key_is_a_config_error(fake_providers: FakeProviders, tmp_path: Path) -> None:
    info = json.loads(fake_providers.credentials_path.read_text())
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info | {"private_key": "-----BEGIN PRIVATE KEY-----\nnope\n"}))

    with pytest.raises(ChannelConfigError, match="private key is not valid"):
        FCMPush(credentials_path=str(path))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"account_sid": "XX123", "auth_token": "t", "from_number": "+15005550006"},
        {"account_sid": "AC1", "auth_token": "t", "from_number": "5550006"},
        {"account_sid": "AC1", "auth_token": "t", "from_number": "+1555", "base_url": "ftp://x"},
    ],
)
def test_twilio_config_is_checked_at_start(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ChannelConfigError):
        TwilioSMS(**kwargs)


def test_sendgrid_config_is_checked_at_start() -> None:
    with pytest.raises(ChannelConfigError, match="SENDGRID_FROM"):
        SendGridEmail(api_key="SG.x", from_address="not an address")


class _Counting:
    name: ClassVar[str] = "counting"
    kind: ClassVar[str] = "sms"

    def __init__(self) -> None:
        self.closed = 0

    async def send(self, message: Message) -> Receipt:
        return Receipt(provider_id="x")

    async def close(self) -> None:
        self.closed += 1


async def test_close_channels_closes_each_channel_once() -> None:
    shared, other = _Counting(), _Counting()

    await close_channels({"sms": shared, "email": shared, "push": other})

    assert (shared.closed, other.closed) == (1, 1)
