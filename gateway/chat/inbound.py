"""INBOUND_SMS_HANDLERS entry: an SMS that is neither a keyword nor a rating, relayed as chat.

From a driver's number: the answer to the customer of their next (or reached) stop. From a
customer: a message for the driver of their shipment's stop, while that stop is next or reached.
STOP and the other keywords never get here (gateway/notifications/keywords.py answers them
first), and a customer who has opted out is neither relayed nor answered. The reply returned is
what the sender gets back at once: nothing, except a short notice when they write too fast.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.relay import ChatClosed, ChatStop, RateLimited, customer_writes, driver_writes
from gateway.chat.rules import EmptyMessage, Via
from gateway.chat.stops import stop_for_driver_phone, stop_for_shipment
from gateway.domain.inbound_sms import InboundSMS
from gateway.notifications.store import is_opted_out
from gateway.tracking.page_text import PageLocale
from gateway.tracking.store import load_shipment

log = logging.getLogger(__name__)

NO_REPLY: Final = ""  # claimed: no other handler, and nothing sent back
_TOO_FAST: Final = {
    "en": "{store}: message not passed on, too many in a row. Please try again in a minute.",
    "es": "{store}: mensaje no enviado, demasiados seguidos. Intentalo de nuevo en un minuto.",
}
_DRIVER_TOO_FAST: Final = "Message not passed on: too many in a row. Try again in a minute."


async def relay_chat_sms(conn: AsyncConnection, sms: InboundSMS) -> str | None:
    """The driver's answer, or the customer's message for the driver; None if neither applies."""
    if not sms.from_number:
        return None
    stop = await stop_for_driver_phone(conn, sms.from_number)
    if stop is not None:
        return await _from_driver(conn, sms, stop)
    return await _from_customer(conn, sms)


async def _from_driver(conn: AsyncConnection, sms: InboundSMS, stop: ChatStop) -> str | None:
    shipment = await load_shipment(conn, stop.shipment_id)
    if shipment is None:
        return None
    try:
        await driver_writes(conn, shipment, stop, sms.body, Via.SMS, datetime.now(UTC))
    except RateLimited:
        return _DRIVER_TOO_FAST
    except (ChatClosed, EmptyMessage):
        return NO_REPLY
    return NO_REPLY


async def _from_customer(conn: AsyncConnection, sms: InboundSMS) -> str | None:
    if sms.shipment_id is None or sms.tenant_id is None:
        return None
    shipment = await load_shipment(conn, sms.shipment_id)
    if shipment is None or shipment.tenant_id != sms.tenant_id:
        return None
    if await is_opted_out(conn, sms.tenant_id, sms.from_number):
        log.info("chat %s: reply from an opted-out number dropped", shipment.id)
        return NO_REPLY  # STOP wins: nothing relayed, nothing sent
    stop = await stop_for_shipment(conn, shipment.id)
    try:
        await customer_writes(conn, shipment, stop, sms.body, Via.SMS, datetime.now(UTC))
    except ChatClosed:
        return None  # no driver on the way: not a chat message
    except EmptyMessage:
        return NO_REPLY
    except RateLimited:
        lang = PageLocale(shipment.recipient.get("locale")).lang
        return _TOO_FAST[lang].format(store=shipment.store_name[:20].rstrip())
    return NO_REPLY
