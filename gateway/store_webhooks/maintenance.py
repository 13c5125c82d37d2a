"""Cron job: drop store webhook messages past retention, re-kick lanes whose job was lost."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.platform.job_context import JobContext
from gateway.platform.names import Job
from gateway.store_webhooks import store_messages as messages

log = logging.getLogger(__name__)

RETENTION: Final = timedelta(days=30)
OVERDUE_GRACE: Final = timedelta(minutes=2)  # a deferred arq job this late is presumed lost
KICK_BATCH: Final = 500


async def webhook_maintenance(ctx: JobContext) -> dict[str, int]:
    """Idempotent: a kick's job id names the message and its attempt count."""
    now = datetime.now(UTC)
    async with ctx["db"].begin() as conn:
        purged = await messages.purge(conn, now - RETENTION)
    async with ctx["db"].connect() as conn:
        late = await messages.overdue(conn, now - OVERDUE_GRACE, KICK_BATCH)
    kicked = 0
    for message in late:
        job_id = f"webhook:{message.id}:kick:{message.attempts}"
        job = await ctx["redis"].enqueue_job(Job.DELIVER_WEBHOOK, message.id, _job_id=job_id)
        kicked += job is not None
    if purged or kicked:
        log.info("webhook maintenance: purged %d messages, re-kicked %d", purged, kicked)
    return {"purged": purged, "kicked": kicked}
