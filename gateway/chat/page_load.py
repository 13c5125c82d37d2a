"""Reads the tracking page's message box: the thread and whether the driver is on the way."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.chat import store as chat_store
from gateway.chat.page import ChatNotice, ChatView, chat_view
from gateway.chat.rules import may_chat
from gateway.chat.stops import stop_for_shipment
from gateway.platform.db import READ_ONLY
from gateway.tracking.page_text import PageLocale


async def load_chat_view(
    engine: AsyncEngine,
    shipment_id: str,
    *,
    locale: PageLocale,
    zone: ZoneInfo,
    post_url: str,
    notice: ChatNotice | None = None,
    draft: str = "",
) -> ChatView | None:
    """The section for the page, or None when there is neither a thread nor a driver on the way."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        stop = await stop_for_shipment(conn, shipment_id)
        messages = await chat_store.thread(conn, shipment_id)
    return chat_view(
        messages,
        can_write=stop is not None and may_chat(stop.state),
        locale=locale,
        zone=zone,
        post_url=post_url,
        notice=notice,
        draft=draft,
    )
