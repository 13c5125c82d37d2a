"""Chat rules: text cleaning, when the two sides may talk, the rate limit, how a message travels,
what a relayed SMS says (never a number)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.sms_length import SmsEncoding, sms_length
from gateway.chat import rules
from gateway.chat.rules import Limited, Relay, Via

NOW = datetime(2026, 3, 16, 15, 0, tzinfo=UTC)


def test_text_is_one_trimmed_paragraph_of_bounded_length() -> None:
    assert rules.clean_text("  Leave it\n\nby the   back door  ") == "Leave it by the back door"
    assert len(rules.clean_text("x" * 2000)) == rules.MAX_TEXT_CHARS
    for empty in ("", "   ", "\n\t"):
        with pytest.raises(rules.EmptyMessage):
            rules.clean_text(empty)


@pytest.mark.parametrize(
    ("state", "open_"),
    [("active", True), ("arrived", True), ("planned", False), ("done", False), ("failed", False)],
)
def test_the_two_sides_talk_only_while_the_stop_is_next_or_reached(state: str, open_: bool) -> None:
    assert rules.may_chat(state) is open_
    assert rules.may_chat(None) is False


def test_three_messages_a_minute_then_wait_for_the_oldest_to_leave() -> None:
    sent = [NOW - timedelta(seconds=50), NOW - timedelta(seconds=20)]
    assert rules.rate_limit(sent, NOW) is None
    sent.append(NOW - timedelta(seconds=5))
    assert rules.rate_limit(sent, NOW) == Limited(retry_after_s=10)  # the 50 s one leaves at 60
    assert rules.rate_limit(sent, NOW + timedelta(seconds=10)) is None


def test_twenty_an_hour_even_when_spread_out() -> None:
    sent = [NOW - timedelta(minutes=3 * i + 1) for i in range(20)]  # 1..58 minutes ago
    limited = rules.rate_limit(sent, NOW)
    assert limited == Limited(retry_after_s=2 * 60)  # the 58-minute-old one leaves in 2 minutes
    assert rules.rate_limit(sent[:19], NOW) is None
    assert rules.longest_window() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("last_via", "can_sms", "relay"),
    [
        (
            None,
            True,
            Relay.SMS,
        ),  # the driver writes first: SMS, the customer may not be on the page
        (Via.SMS, True, Relay.SMS),
        (Via.PAGE, True, Relay.THREAD),  # they wrote from the page: the answer shows there
        (Via.SMS, False, Relay.THREAD),  # opted out or no phone: never an SMS
        (None, False, Relay.THREAD),
    ],
)
def test_how_the_driver_answer_reaches_the_customer(
    last_via: Via | None, can_sms: bool, relay: Relay
) -> None:
    assert rules.customer_relay(last_via, can_sms) is relay


def test_a_customer_message_reaches_the_driver_by_sms_only_when_configured() -> None:
    assert rules.driver_relay(True) is Relay.SMS
    assert rules.driver_relay(False) is Relay.THREAD


def test_relayed_sms_name_the_parcel_and_store_not_a_number() -> None:
    to_driver = rules.sms_to_driver(rules.parcel_ref("1Z8R2F610373102544"), "Gate code 4411")
    to_customer = rules.sms_to_customer("The Very Long Name Bookshop & Co", "2 minutes away!")

    assert to_driver == "Customer 2544: Gate code 4411"
    assert to_customer == "The Very Long Name B driver: 2 minutes away!"
    assert sms_length(to_customer).encoding is SmsEncoding.GSM7
