"""What every channel shares: the messages it sends, its receipt, and its two failure types."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final, Protocol

from gateway.platform.settings import SettingsError

KINDS: Final = ("sms", "email", "push")  # the keys of the dict that registry.build_channels returns


class SendError(Exception):
    """Base of the two failures a channel may raise. `code` is short, stable and PII-free."""

    def __init__(self, code: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after_s = retry_after_s  # from a 429/503 Retry-After, when the provider said


class RetryableSendError(SendError):
    """Try again later: rate limits, 5xx, timeouts, connection errors."""


class OutcomeUnknownError(SendError):
    """The provider may have taken the request but never answered (a timeout, a dropped
    connection): the message may or may not be out. Sending it again could deliver it twice."""


class PermanentSendError(SendError):
    """Retrying cannot help: invalid number, unsubscribed recipient, bad token, rejected payload.

    `unsubscribed` marks the recipient opted out at the provider (Twilio 21610);
    `invalid_recipient` marks an address or token that must not be used again (FCM UNREGISTERED).
    """

    def __init__(
        self, code: str, *, unsubscribed: bool = False, invalid_recipient: bool = False
    ) -> None:
        super().__init__(code)
        self.unsubscribed = unsubscribed
        self.invalid_recipient = invalid_recipient


class ChannelConfigError(SettingsError):
    """A channel lacks a credential or has a bad one: names the variable, never its value."""


def require(value: str | None, env_var: str, provider: str) -> str:
    """`value`, or ChannelConfigError naming the missing variable."""
    if value is None or not value.strip():
        raise ChannelConfigError(
            f"{env_var} is required when LASTMILE_CHANNELS includes {provider}"
        )
    return value.strip()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True, slots=True)
class OutboundSMS:
    to: str  # E.164
    body: str
    status_callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundEmail:
    to: str
    subject: str
    text: str  # every email has a plain-text part
    html: str
    custom_args: dict[str, str] = field(default_factory=dict)  # echoed back by event webhooks


@dataclass(frozen=True, slots=True)
class OutboundPush:
    token: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)


Message = OutboundSMS | OutboundEmail | OutboundPush


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_id: str  # the provider's message id, used to match status callbacks


class Channel(Protocol):
    """One provider. `send` raises RetryableSendError, PermanentSendError or (when the request
    went out but no answer came back) OutcomeUnknownError; it never returns False."""

    name: ClassVar[str]  # the provider: "twilio", "sendgrid", "fcm", "console"
    kind: ClassVar[str]  # what it sends: "sms", "email", "push" (console: "any")

    async def send(self, message: Message) -> Receipt: ...

    async def close(self) -> None: ...
