"""Reads the tracking page's message box: the thread and whether the driver is on the way.

Read on the page's own connection (gateway/tracking/routes.py `load_link`): every query and
every connection counts on the hottest page of the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat import store as chat_store
from gateway.chat.rules import may_chat
from gateway.chat.stops import stop_state
from gateway.chat.store import Message


@dataclass(frozen=True, slots=True)
class ChatState:
    messages: list[Message]
    can_write: bool  # the driver is on the way to this stop (or there)


async def load_chat_state(conn: AsyncConnection, shipment_id: str) -> ChatState:
    """One query for a parcel no driver of the store carries (most of them): a thread only ever
    starts on a driver's stop, so without a stop there is none to read."""
    state = await stop_state(conn, shipment_id)
    if state is None:
        return ChatState([], can_write=False)
    return ChatState(await chat_store.thread(conn, shipment_id), may_chat(state))
