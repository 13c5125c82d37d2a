"""Inbound SMS replies, after STOP/START/HELP: who may claim a reply, in order.

`POST /callbacks/twilio/sms` verifies the signature, answers the carrier keywords itself, resolves
which shipment the sender's conversation is about (the newest SMS notification sent to that
number), then offers the reply to each handler here in turn; the first that returns a reply text
(possibly empty) has handled it. Ratings (`1`-`5`) and driver relay register here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.ratings import sms_rating_reply


@dataclass(frozen=True, slots=True)
class InboundSMS:
    from_number: str  # E.164, never logged
    to_number: str
    body: str
    message_sid: str
    tenant_id: str | None  # None: no notification was ever sent to this number
    shipment_id: str | None
    last_template: str | None  # event of the newest SMS sent there, e.g. "delivered"


InboundHandler = Callable[[AsyncConnection, InboundSMS], Awaitable[str | None]]

# One line per area that can claim a reply; the first non-None answer wins.
INBOUND_SMS_HANDLERS: Final[tuple[InboundHandler, ...]] = (
    sms_rating_reply,  # `1`-`5` after delivery: a rating (gateway/ratings.py)
)
