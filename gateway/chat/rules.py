"""Talking to the driver: who may write when, how fast, what a relayed SMS says. No I/O.

The gateway sits between the two sides (a masked relay): a message is stored on the shipment and
passed on by the gateway's own number, so neither side ever learns the other's number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

MAX_TEXT_CHARS: Final = 500
# At most N messages from one side of one conversation within each window (both directions).
RATE_LIMITS: Final = ((timedelta(minutes=1), 3), (timedelta(hours=1), 20))
# The stop states (gateway/drivers/model.py StopState) in which the two sides may talk: the
# driver's next stop, and the stop the driver has reached.
CHAT_STOP_STATES: Final = frozenset({"active", "arrived"})
_SMS_STORE_CHARS: Final = 20


class Sender(StrEnum):
    CUSTOMER = "customer"
    DRIVER = "driver"


class Via(StrEnum):
    """How a message reached the gateway."""

    SMS = "sms"
    PAGE = "page"  # the customer's tracking page
    APP = "app"  # the driver app


class Relay(StrEnum):
    """How a message reaches the other side: by SMS from the gateway's number, or only where the
    other side reads the thread (the tracking page, the driver app)."""

    SMS = "sms"
    THREAD = "thread"


class RelayStatus(StrEnum):
    NONE = "none"  # nothing to send: the other side reads it in the thread
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EmptyMessage(ValueError):
    """Raised for a message with no text once trimmed."""


@dataclass(frozen=True, slots=True)
class Limited:
    retry_after_s: int


def clean_text(text: str) -> str:
    """One paragraph, trimmed, at most MAX_TEXT_CHARS. Raises EmptyMessage if nothing is left."""
    cleaned = " ".join(text.split())[:MAX_TEXT_CHARS].rstrip()
    if not cleaned:
        raise EmptyMessage("text")
    return cleaned


def may_chat(stop_state: str | None) -> bool:
    return stop_state in CHAT_STOP_STATES


def rate_limit(sent_at: Sequence[datetime], now: datetime) -> Limited | None:
    """None if one more message may go now, else how long to wait (`sent_at`: this side's
    messages in this conversation within the longest window, any order)."""
    wait_s = 0.0
    for window, most in RATE_LIMITS:
        inside = sorted(t for t in sent_at if now - t < window)
        if len(inside) >= most:
            # The oldest message that keeps the window full has to leave it first.
            leaves_at = inside[len(inside) - most] + window
            wait_s = max(wait_s, (leaves_at - now).total_seconds())
    return Limited(max(1, int(wait_s + 0.999))) if wait_s > 0 else None


def longest_window() -> timedelta:
    return max(window for window, _ in RATE_LIMITS)


def customer_relay(last_customer_via: Via | None, customer_can_sms: bool) -> Relay:
    """How a driver's message reaches the customer: by SMS when the customer has a number that
    has not opted out and last wrote by SMS (or not yet), else only on the page."""
    if customer_can_sms and last_customer_via is not Via.PAGE:
        return Relay.SMS
    return Relay.THREAD


def driver_relay(driver_wants_sms: bool) -> Relay:
    """How a customer's message reaches the driver: always in the app, by SMS when configured."""
    return Relay.SMS if driver_wants_sms else Relay.THREAD


def sms_to_driver(parcel_ref: str, text: str) -> str:
    """`Customer 4784: Leave it by the back door` (no number; reply to answer)."""
    return f"Customer {parcel_ref}: {text}"


def sms_to_customer(store_name: str, text: str) -> str:
    """`Corner Books driver: Two minutes away!` from the number the store's messages come from."""
    store = store_name[:_SMS_STORE_CHARS].rstrip()
    return f"{store} driver: {text}"


def relay_job_id(message_id: str) -> str:
    """The relay SMS job's id: derived from the message, so queueing it twice is a no-op."""
    return f"send_chat_sms:{message_id}"


def parcel_ref(tracking_number: str) -> str:
    """What a driver recognises a stop by without the customer's details: the parcel's last 4."""
    return tracking_number[-4:]
