"""Cron job: drop raw payloads and relayed outbox rows past their retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.jobs.context import JobContext
from gateway.store.outbox import purge_enqueued
from gateway.store.tables import raw_payloads

log = logging.getLogger(__name__)

OUTBOX_KEEP: Final = timedelta(days=7)


async def purge_expired(ctx: JobContext) -> dict[str, int]:
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=ctx["settings"].raw_payload_retention_days)
    async with ctx["db"].begin() as conn:
        result = await conn.execute(
            raw_payloads.delete().where(raw_payloads.c.received_at < cutoff)
        )
        outbox_rows = await purge_enqueued(conn, now - OUTBOX_KEEP)
    purged = {"raw_payloads": int(result.rowcount or 0), "outbox": outbox_rows}
    log.info("purged %(raw_payloads)d raw payloads, %(outbox)d outbox rows", purged)
    return purged
