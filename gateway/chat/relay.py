"""A message from either side: checked, stored on the shipment, announced, relayed.

`customer_writes` and `driver_writes` run inside the caller's transaction: the message row, the
store's `customer.message` webhook and the outbox job of its relay SMS (gateway/chat/jobs.py)
are committed together or not at all. Neither side's number is ever put in a message, a log
line or the thread; the store webhook carries them under `phone` keys, which only endpoints with
`include_pii` receive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat import rules
from gateway.chat import store as chat_store
from gateway.chat.rules import Relay, Sender, Via
from gateway.chat.store import Message, NewMessage
from gateway.domain.events import format_utc
from gateway.notifications.store import is_opted_out
from gateway.platform.names import Job
from gateway.platform.outbox import add_job
from gateway.store_webhooks import events as webhook_events
from gateway.tracking.store import TrackedShipment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChatStop:
    """The stop a conversation is about, as the drivers area knows it."""

    shipment_id: str
    driver_id: str
    driver_phone: str | None
    state: str  # the stop's state (gateway/drivers/model.py StopState)


class ChatClosed(Exception):
    """Raised when the shipment's stop is not the driver's active or next one."""


class RateLimited(Exception):
    """Raised when this side wrote too much too fast; `retry_after_s` says when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


async def customer_writes(
    conn: AsyncConnection,
    shipment: TrackedShipment,
    stop: ChatStop | None,
    text: str,
    via: Via,
    now: datetime,
) -> Message:
    """The customer's message for the driver. Raises ChatClosed, RateLimited, EmptyMessage."""
    stop = _open(stop)
    cleaned = rules.clean_text(text)
    await _check_rate(conn, shipment.id, Sender.CUSTOMER, now)
    relay = rules.driver_relay(await chat_store.driver_wants_sms(conn, stop.driver_id))
    new = NewMessage(
        shipment.tenant_id, shipment.id, stop.driver_id, Sender.CUSTOMER, via, cleaned, relay
    )
    return await _record(conn, shipment, stop, new, now)


async def driver_writes(
    conn: AsyncConnection,
    shipment: TrackedShipment,
    stop: ChatStop | None,
    text: str,
    via: Via,
    now: datetime,
) -> Message:
    """The driver's answer for the customer. Raises ChatClosed, RateLimited, EmptyMessage."""
    stop = _open(stop)
    cleaned = rules.clean_text(text)
    await _check_rate(conn, shipment.id, Sender.DRIVER, now)
    phone = shipment.recipient.get("phone")
    can_sms = bool(phone) and not await is_opted_out(conn, shipment.tenant_id, phone)
    last_via = await chat_store.last_customer_via(conn, shipment.id)
    relay = rules.customer_relay(last_via, can_sms)
    new = NewMessage(
        shipment.tenant_id, shipment.id, stop.driver_id, Sender.DRIVER, via, cleaned, relay
    )
    return await _record(conn, shipment, stop, new, now)


def _open(stop: ChatStop | None) -> ChatStop:
    if stop is None or not rules.may_chat(stop.state):
        raise ChatClosed()
    return stop


async def _check_rate(
    conn: AsyncConnection, shipment_id: str, sender: Sender, now: datetime
) -> None:
    since = now - rules.longest_window()
    limited = rules.rate_limit(await chat_store.sent_since(conn, shipment_id, sender, since), now)
    if limited is not None:
        log.info("chat %s: %s rate limited for %ds", shipment_id, sender, limited.retry_after_s)
        raise RateLimited(limited.retry_after_s)


async def _record(
    conn: AsyncConnection, shipment: TrackedShipment, stop: ChatStop, new: NewMessage, now: datetime
) -> Message:
    message = await chat_store.insert(conn, new, now)
    if message.relay is Relay.SMS:
        await add_job(conn, Job.SEND_CHAT_SMS, rules.relay_job_id(message.id), message.id)
    await webhook_events.emit(
        conn,
        shipment.tenant_id,
        webhook_events.EventType.CUSTOMER_MESSAGE.value,
        webhook_data(message, shipment, stop),
        f"customer.message:{message.id}",
    )
    log.info("chat %s: %s wrote via %s, relay %s", shipment.id, new.sender, new.via, message.relay)
    return message


def message_json(message: Message) -> dict[str, Any]:
    """A message as every API shows it: no numbers, whoever asks."""
    return {
        "id": message.id,
        "shipment_id": message.shipment_id,
        "from": message.sender.value,
        "via": message.via.value,
        "text": message.text,
        "created_at": format_utc(message.created_at),
        "driver_id": message.driver_id,
        "relay": {"channel": message.relay.value, "status": message.relay_status.value},
    }


def webhook_data(message: Message, shipment: TrackedShipment, stop: ChatStop) -> dict[str, Any]:
    """`customer.message`: the message, and both numbers under `phone` (include_pii only)."""
    return {
        **message_json(message),
        "tracking_number": shipment.tracking_number,
        "order_id": shipment.order_id,
        "customer": {"phone": shipment.recipient.get("phone")},
        "driver": {"id": stop.driver_id, "phone": stop.driver_phone},
    }
