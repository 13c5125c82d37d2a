"""Store webhook upkeep: drop messages past retention; find lane heads whose job was lost."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.job_context import JobContext
from gateway.platform.names import Job
from gateway.platform.outbox import PendingJob
from gateway.store_webhooks import store_messages as messages
from gateway.store_webhooks.events import delivery_job_id

log = logging.getLogger(__name__)

RETENTION: Final = timedelta(days=30)


async def webhook_maintenance(ctx: JobContext) -> dict[str, int]:
    """Idempotent: purge messages (and their attempts) older than RETENTION."""
    now = datetime.now(UTC)
    async with ctx["db"].begin() as conn:
        purged = await messages.purge(conn, now - RETENTION)
    if purged:
        log.info("webhook maintenance: purged %d messages", purged)
    return {"purged": purged}


async def due_jobs(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[PendingJob]:
    """Reconciler finder: lane heads due before `due_before` that no send holds.

    Each gets its own delivery job (the id it was born with): a lane is delivered by whichever
    job reaches its head, so the head's job is enough to move the whole lane again.
    """
    heads = await messages.overdue(conn, due_before, now, limit)
    return [PendingJob(delivery_job_id(m.id), Job.DELIVER_WEBHOOK, [m.id]) for m in heads]
