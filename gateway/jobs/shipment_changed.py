"""Job: a shipment's status or ETA moved. Fans the change out, then announces it live."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import Status
from gateway.jobs.context import JobContext
from gateway.jobs.fanout import CHANGE_HANDLERS, ShipmentChange
from gateway.metrics import JOBS_RUN
from gateway.relay import hand_over
from gateway.store.outbox import collect_added_jobs
from gateway.store.tables import shipment_changes, shipments

log = logging.getLogger(__name__)

LIVE_CHANNEL_PREFIX: Final = "lastmile:live:shipment:"


async def shipment_changed(ctx: JobContext, change_id: str) -> str:
    """Idempotent: a second run of the same change does nothing and says so."""
    with collect_added_jobs() as follow_up:
        async with ctx["db"].begin() as conn:
            change = await _claim(conn, change_id)
            if change is not None:
                for handler in CHANGE_HANDLERS:
                    await handler(conn, change)
    if change is None:
        JOBS_RUN.labels("shipment_changed", "duplicate").inc()
        return "already handled"
    # Hand this change's own follow-up jobs to arq now (a full drain here made every job fight
    # over the same outbox rows); anything missed stays in the outbox for the relay.
    try:
        await hand_over(ctx["db"], ctx["redis"], follow_up)
    except Exception as exc:  # committed already: the relay will move them
        log.warning("follow-up hand-over failed (%s); left to the relay", type(exc).__name__)
    message = {
        "shipment_id": change.shipment_id,
        "status": change.status_after.value,
        "estimated_delivery": change.eta_after.isoformat() if change.eta_after else None,
    }
    await ctx["redis"].publish(LIVE_CHANNEL_PREFIX + change.shipment_id, json.dumps(message))
    JOBS_RUN.labels("shipment_changed", "done").inc()
    log.info("shipment %s now %s", change.shipment_id, change.status_after.value)
    return f"{change.shipment_id} -> {change.status_after.value}"


async def _claim(conn: AsyncConnection, change_id: str) -> ShipmentChange | None:
    claimed = await conn.execute(
        shipment_changes.update()
        .where(shipment_changes.c.id == change_id, shipment_changes.c.processed_at.is_(None))
        .values(processed_at=datetime.now(UTC))
        .returning(shipment_changes.c.id)
    )
    if claimed.first() is None:
        return None
    row: Any = (
        await conn.execute(
            sa.select(shipment_changes, shipments.c.tenant_id)
            .join(shipments, shipments.c.id == shipment_changes.c.shipment_id)
            .where(shipment_changes.c.id == change_id)
        )
    ).one()
    return ShipmentChange(
        id=row.id,
        shipment_id=row.shipment_id,
        tenant_id=row.tenant_id,
        status_before=Status(row.status_before) if row.status_before else None,
        status_after=Status(row.status_after),
        eta_before=row.eta_before,
        eta_after=row.eta_after,
        event_identity=row.event_identity,
        created_at=row.created_at,
    )
