"""Provider callbacks seen before, by the provider's own id: a replay is recognised, durably.

Recorded in the transaction that applies the callback, so a callback whose effect was rolled
back is not remembered either, and a retried one is applied then. Kept `KEEP` (providers retry
for hours at most), then purged by the retention job.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.notifications.tables import provider_callbacks
from gateway.platform.upsert import insert_ignore

KEEP: Final = timedelta(days=30)
_MAX_ID_CHARS: Final = 120  # provider_callbacks.callback_id


class Callback(StrEnum):
    TWILIO_SMS = "twilio_sms"  # by MessageSid
    TWILIO_STATUS = "twilio_status"  # by MessageSid and MessageStatus
    SENDGRID_EVENT = "sendgrid"  # by sg_event_id


async def first_delivery(conn: AsyncConnection, provider: Callback, callback_id: str) -> bool:
    """Record the callback; False when it was recorded before (a replay: apply nothing)."""
    if len(callback_id) > _MAX_ID_CHARS:  # not a real provider id, but keep it distinct
        callback_id = "sha256:" + hashlib.sha256(callback_id.encode()).hexdigest()
    statement = insert_ignore(
        provider_callbacks,
        conn.dialect.name,
        provider=provider.value,
        callback_id=callback_id,
        received_at=datetime.now(UTC),
    )
    return bool((await conn.execute(statement)).rowcount)


async def purge(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(
        provider_callbacks.delete().where(provider_callbacks.c.received_at < before)
    )
    return int(result.rowcount or 0)
