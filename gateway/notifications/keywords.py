"""Inbound SMS: the carrier keywords (STOP, START, HELP and synonyms), then the reply handlers.

Which store a number talks to is the store of the newest SMS we sent it. STOP opts the number
out for that store only; START opts it back in; HELP answers with the store's help text.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.inbound_sms import InboundSMS
from gateway.notifications import store
from gateway.notifications import store_config as config
from gateway.notifications.inbound import INBOUND_SMS_HANDLERS
from gateway.notifications.rules import Recipient, language
from gateway.shipments.store import recipient_of
from gateway.tenants.store import tenant_name

log = logging.getLogger(__name__)

STOP_WORDS: Final = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS: Final = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS: Final = frozenset({"HELP", "INFO"})
_REPLIES: Final = {
    "en": {
        "stop": "{store}: you are unsubscribed and will get no more messages. Reply START to "
        "resubscribe.",
        "start": "{store}: you are subscribed to delivery updates again. Reply STOP to "
        "unsubscribe.",
        "help": "{store}: delivery updates for your order. Reply STOP to unsubscribe. Msg&data "
        "rates may apply.",
    },
    "es": {
        "stop": "{store}: te has dado de baja y no recibiras mas mensajes. Responde START para "
        "volver a suscribirte.",
        "start": "{store}: vuelves a recibir avisos de entrega. Responde STOP para darte de baja.",
        "help": "{store}: avisos de entrega de tu pedido. Responde STOP para darte de baja. "
        "Pueden aplicarse tarifas.",
    },
}


def keyword_of(body: str) -> str:
    """`  stop. ` → `STOP`: carriers match the whole message, case-insensitively."""
    return " ".join(body.split()).upper().strip(".!")


async def answer_keyword(
    conn: AsyncConnection, *, from_number: str, to_number: str, body: str, message_sid: str
) -> str | None:
    """The reply to send back (None: no reply). Writes opt-outs in the caller's transaction."""
    keyword = keyword_of(body)
    last = await store.newest_sms_to(conn, from_number) if from_number else None
    if keyword in STOP_WORDS | START_WORDS | HELP_WORDS:
        if last is None:
            log.info("inbound %s from a number we never texted", keyword)
            return None
        kind = "stop" if keyword in STOP_WORDS else "start" if keyword in START_WORDS else "help"
        if kind == "stop":
            await store.opt_out(conn, last.tenant_id, from_number, "keyword")
        elif kind == "start":
            await store.opt_in(conn, last.tenant_id, from_number)
        log.info("inbound %s for tenant %s", kind, last.tenant_id)
        return await _reply(conn, last, kind)
    inbound = InboundSMS(
        from_number=from_number,
        to_number=to_number,
        body=body,
        message_sid=message_sid,
        tenant_id=last.tenant_id if last else None,
        shipment_id=last.shipment_id if last else None,
        last_template=last.event if last else None,
    )
    for handler in INBOUND_SMS_HANDLERS:
        answer = await handler(conn, inbound)
        if answer is not None:
            return answer
    return None


async def _reply(conn: AsyncConnection, last: store.LastSMS, kind: str) -> str:
    name = await tenant_name(conn, last.tenant_id) or ""
    if kind == "help":
        help_text = (await config.get_settings(conn, last.tenant_id)).help_text
        if help_text:
            return help_text
    recipient = Recipient.from_json(await recipient_of(conn, last.shipment_id))
    return _REPLIES[language(recipient.locale)][kind].format(store=name)
