"""Job: a shipment's status or ETA moved. Marks the change handled and announces it live.

Notification planning hangs off this job (issue 5); store webhooks too (issue 6).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Final

from gateway.jobs.context import JobContext
from gateway.metrics import JOBS_RUN
from gateway.store.tables import shipment_changes

log = logging.getLogger(__name__)

LIVE_CHANNEL_PREFIX: Final = "lastmile:live:shipment:"


async def shipment_changed(ctx: JobContext, change_id: str) -> str:
    """Idempotent: a second run of the same change does nothing and says so."""
    now = datetime.now(UTC)
    async with ctx["db"].begin() as conn:
        claimed = await conn.execute(
            shipment_changes.update()
            .where(shipment_changes.c.id == change_id, shipment_changes.c.processed_at.is_(None))
            .values(processed_at=now)
            .returning(
                shipment_changes.c.shipment_id,
                shipment_changes.c.status_after,
                shipment_changes.c.eta_after,
            )
        )
        row = claimed.first()
    if row is None:
        JOBS_RUN.labels("shipment_changed", "duplicate").inc()
        return "already handled"
    message = {
        "shipment_id": row.shipment_id,
        "status": row.status_after,
        "estimated_delivery": row.eta_after.isoformat() if row.eta_after else None,
    }
    await ctx["redis"].publish(LIVE_CHANNEL_PREFIX + row.shipment_id, json.dumps(message))
    JOBS_RUN.labels("shipment_changed", "done").inc()
    log.info("shipment %s now %s", row.shipment_id, row.status_after)
    return f"{row.shipment_id} -> {row.status_after}"
