"""The message box on the customer's tracking page: the thread, the form, what it says. Pure.

Shown while the driver is on the way to this stop (the form), or when there is a thread to read.
The page has no JavaScript: the form posts to `/t/{token}/messages` and the answer is the page
again (a redirect, or the page with 429 and the typed text kept when the customer writes too
fast). Times are in the recipient's zone; neither side's number ever appears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from gateway.chat.rules import MAX_TEXT_CHARS, Sender
from gateway.chat.store import Message
from gateway.tracking.page_text import PageLocale

SHOWN_MESSAGES: Final = 50


class ChatNotice(StrEnum):
    """What the page says after the form was sent (`?chat=` on the redirect)."""

    SENT = "sent"
    EMPTY = "empty"
    CLOSED = "closed"
    SLOW = "slow"


_TEXT: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "title": "Message your driver",
        "title_closed": "Messages with your driver",
        "lead": "Your driver sees your message in their app. Your number stays private.",
        "you": "You",
        "driver": "Driver",
        "label": "Your message",
        "send": "Send",
        "sent": "Sent to your driver.",
        "empty": "Please write a message first.",
        "closed": "Your driver can get messages only while they are on the way to you.",
        "slow": "You are sending messages too quickly. Please try again in a minute.",
    },
    "es": {
        "title": "Escribe a tu repartidor",
        "title_closed": "Mensajes con tu repartidor",
        "lead": "Tu repartidor verá el mensaje en su app. Tu número sigue siendo privado.",
        "you": "Tú",
        "driver": "Repartidor",
        "label": "Tu mensaje",
        "send": "Enviar",
        "sent": "Enviado a tu repartidor.",
        "empty": "Escribe un mensaje primero.",
        "closed": "Tu repartidor solo recibe mensajes mientras viene hacia ti.",
        "slow": "Estás enviando mensajes muy rápido. Inténtalo de nuevo en un minuto.",
    },
}


@dataclass(frozen=True, slots=True)
class ChatLine:
    mine: bool  # written by the customer
    who: str
    text: str
    time: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChatView:
    lines: list[ChatLine]
    can_write: bool
    notice: ChatNotice | None
    post_url: str
    draft: str
    max_chars: int
    text: Mapping[str, str]


def chat_view(
    messages: Sequence[Message],
    *,
    can_write: bool,
    locale: PageLocale,
    zone: ZoneInfo,
    post_url: str,
    notice: ChatNotice | None = None,
    draft: str = "",
) -> ChatView | None:
    """The section, or None when there is nothing to show (no thread and the chat is closed)."""
    if not messages and not can_write and notice is None:
        return None
    text = _TEXT.get(locale.lang, _TEXT["en"])
    lines = [
        ChatLine(
            mine=m.sender is Sender.CUSTOMER,
            who=text["you"] if m.sender is Sender.CUSTOMER else text["driver"],
            text=m.text,
            time=locale.time(m.created_at.astimezone(zone)),
            at=m.created_at,
        )
        for m in messages[-SHOWN_MESSAGES:]
    ]
    return ChatView(lines, can_write, notice, post_url, draft, MAX_TEXT_CHARS, text)


def notice_of(value: str | None) -> ChatNotice | None:
    try:
        return ChatNotice(value or "")
    except ValueError:
        return None
