"""Inbound SMS replies, after STOP/START/HELP: who may claim a reply, in order.

`POST /callbacks/twilio/sms` verifies the signature, answers the carrier keywords itself, resolves
which shipment the sender's conversation is about (the newest SMS notification sent to that
number), then offers the reply to each handler here in turn; the first that returns a reply text
(possibly empty) has handled it. Ratings (`1`-`5`) and driver relay register here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.inbound import relay_chat_sms
from gateway.domain.inbound_sms import InboundSMS
from gateway.tracking.ratings import sms_rating_reply

InboundHandler = Callable[[AsyncConnection, InboundSMS], Awaitable[str | None]]

# One line per area that can claim a reply; the first non-None answer wins.
INBOUND_SMS_HANDLERS: Final[tuple[InboundHandler, ...]] = (
    sms_rating_reply,  # `1`-`5` after delivery: a rating (gateway/tracking/ratings.py)
    relay_chat_sms,  # anything else while a driver is on the way: chat (gateway/chat/inbound.py)
)
