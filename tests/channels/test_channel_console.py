"""The console channel: accepts every kind, answers like a provider, keeps what it sent."""

from __future__ import annotations

import re

import pytest

from channels.base import Message, OutboundEmail, OutboundPush, OutboundSMS, RetryableSendError
from channels.console import ConsoleChannel, ConsoleMessage

MESSAGES: list[Message] = [
    OutboundSMS(to="+15550100001", body="Out for delivery"),
    OutboundEmail(to="jane@example.com", subject="Hi", text="Out", html="<p>Out</p>"),
    OutboundPush(token="cAbCdEfGhIjKlMnOpQrStU", title="Hi", body="Out"),
]


async def test_every_kind_is_sent_with_a_fresh_provider_id() -> None:
    channel = ConsoleChannel()

    receipts = [await channel.send(message) for message in MESSAGES]

    assert all(re.fullmatch(r"console_[0-9a-f]{24}", r.provider_id) for r in receipts)
    assert len({r.provider_id for r in receipts}) == 3
    assert [(m.provider_id, m.kind, m.message) for m in channel.sent] == [
        (receipts[0].provider_id, "sms", MESSAGES[0]),
        (receipts[1].provider_id, "email", MESSAGES[1]),
        (receipts[2].provider_id, "push", MESSAGES[2]),
    ]
    assert [m.message for m in channel.sent_to("jane@example.com")] == [MESSAGES[1]]
    assert all(m.sent_at.utcoffset() is not None for m in channel.sent)


async def test_the_sink_sees_each_message_before_the_receipt() -> None:
    seen: list[ConsoleMessage] = []

    async def sink(entry: ConsoleMessage) -> None:
        seen.append(entry)

    channel = ConsoleChannel(sink=sink)
    receipt = await channel.send(MESSAGES[0])

    assert [(e.provider_id, e.message) for e in seen] == [(receipt.provider_id, MESSAGES[0])]


async def test_a_failing_sink_is_a_retryable_failure_and_keeps_nothing() -> None:
    async def sink(entry: ConsoleMessage) -> None:
        raise OSError("disk full while writing +15550100001")

    channel = ConsoleChannel(sink=sink)
    with pytest.raises(RetryableSendError) as caught:
        await channel.send(MESSAGES[0])

    assert caught.value.code == "console_sink_failed"
    assert "+15550100001" not in str(caught.value)
    assert channel.sent == []


async def test_the_outbox_keeps_only_the_newest() -> None:
    channel = ConsoleChannel(keep=2)
    for index in range(5):
        await channel.send(OutboundSMS(to="+15550100001", body=f"message {index}"))

    assert [m.message.body for m in channel.sent if isinstance(m.message, OutboundSMS)] == [
        "message 3",
        "message 4",
    ]
    channel.clear()
    assert channel.sent == []
    await channel.close()


async def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError):
        await ConsoleChannel().send("hello")  # type: ignore[arg-type]
