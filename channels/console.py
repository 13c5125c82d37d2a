"""Test and development mode: "sends" every kind of message by keeping it in an outbox."""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from channels.base import (
    Message,
    OutboundEmail,
    OutboundPush,
    OutboundSMS,
    Receipt,
    RetryableSendError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    provider_id: str
    kind: str  # "sms", "email" or "push"
    message: Message
    sent_at: datetime


ConsoleSink = Callable[[ConsoleMessage], Awaitable[None]]


def kind_of(message: Message) -> str:
    if isinstance(message, OutboundSMS):
        return "sms"
    if isinstance(message, OutboundEmail):
        return "email"
    if isinstance(message, OutboundPush):
        return "push"
    raise TypeError(f"not a channel message: {type(message).__name__}")


class ConsoleChannel:
    """Accepts any message: keeps the newest `keep` in `sent` and hands each to `sink`, if given.

    The pipeline records console messages in its own notifications log; this channel only
    answers like a provider would (a fresh `console_<hex>` id) and keeps what it sent in memory.
    A failing sink raises RetryableSendError, as a provider outage would.
    """

    name: ClassVar[str] = "console"
    kind: ClassVar[str] = "any"

    def __init__(self, *, sink: ConsoleSink | None = None, keep: int = 1000) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._sink = sink
        self._outbox: deque[ConsoleMessage] = deque(maxlen=keep)  # bounded: demo runs for days

    @property
    def sent(self) -> list[ConsoleMessage]:
        """What this channel sent, oldest first (at most `keep` of them)."""
        return list(self._outbox)

    def sent_to(self, recipient: str) -> list[ConsoleMessage]:
        """Sent messages addressed to a phone number, email address or push token."""
        return [m for m in self._outbox if _recipient(m.message) == recipient]

    def clear(self) -> None:
        self._outbox.clear()

    async def send(self, message: Message) -> Receipt:
        """Raises RetryableSendError("console_sink_failed") when the sink fails."""
        entry = ConsoleMessage(
            provider_id="console_" + secrets.token_hex(12),
            kind=kind_of(message),
            message=message,
            sent_at=datetime.now(UTC),
        )
        if self._sink is not None:
            try:
                await self._sink(entry)
            except Exception as exc:
                # Type only: a sink's error (e.g. a failed INSERT) may quote the recipient.
                log.warning("console sink failed for %s: %s", entry.kind, type(exc).__name__)
                raise RetryableSendError("console_sink_failed") from None
        self._outbox.append(entry)
        log.info("console %s message %s", entry.kind, entry.provider_id)
        return Receipt(provider_id=entry.provider_id)

    async def close(self) -> None:
        """Nothing to release."""


def _recipient(message: Message) -> str:
    if isinstance(message, OutboundPush):
        return message.token
    return message.to
