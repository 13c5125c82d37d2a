"""What every channel shares: the messages it sends, its receipt, and its two failure types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol


class SendError(Exception):
    """Base of the two failures a channel may raise. `code` is short, stable and PII-free."""

    def __init__(self, code: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after_s = retry_after_s  # from a 429/503 Retry-After, when the provider said


class RetryableSendError(SendError):
    """Try again later: rate limits, 5xx, timeouts, connection errors."""


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
    """One provider. `send` raises RetryableSendError or PermanentSendError, never returns False."""

    name: ClassVar[str]  # "sms", "email" or "push" is the kind; the module names the provider
    kind: ClassVar[str]

    async def send(self, message: Message) -> Receipt: ...

    async def close(self) -> None: ...
