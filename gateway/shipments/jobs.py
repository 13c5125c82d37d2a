"""Shipment jobs: a status or ETA moved (fan it out, announce it live); the retention purge."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from arq.worker import func
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.notifications import store_callbacks
from gateway.notifications.jobs import Ready, claim_due_now, send_claimed
from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import LIVE_SHIPMENT_CHANNEL, Job
from gateway.platform.outbox import (
    PendingJob,
    collect_added_jobs,
    mark_enqueued,
    purge_enqueued,
)
from gateway.platform.relay import hand_over
from gateway.shipments import store, store_ingest
from gateway.shipments.fanout import CHANGE_HANDLERS

log = logging.getLogger(__name__)

OUTBOX_KEEP: Final = timedelta(days=7)
# One transaction of inserts per change: seconds at most, even on a busy database.
JOB_TIMEOUT_S: Final = 30.0


class ChangeOutcome(StrEnum):
    """How a `shipment_changed` run ended; the `lastmile_jobs_total` outcome label."""

    HANDLED = "done"
    DUPLICATE = "duplicate"  # another run handled this change already


async def shipment_changed(ctx: JobContext, change_id: str) -> ChangeOutcome:
    """Idempotent: a second run of the same change does nothing and says so.

    The lean path (`send_inline`, the worker's default): notifications due now are claimed in
    the planning transaction and sent by this job right after commit, rather than by one more
    job after one more poll; their `send_notification` jobs stay behind as the safety net.
    """
    claimed: list[tuple[str, Ready]] = []
    with collect_added_jobs() as follow_up:
        async with ctx["db"].begin() as conn:
            change = await store.claim_change(conn, change_id)
            if change is not None:
                for handler in CHANGE_HANDLERS:
                    await handler(conn, change)
                if ctx.get("send_inline", False):
                    claimed = await _claim_sends(ctx, conn, list(follow_up))
    if change is None:
        JOBS_RUN.labels(Job.SHIPMENT_CHANGED, ChangeOutcome.DUPLICATE.value).inc()
        return ChangeOutcome.DUPLICATE
    try:
        done = await _send(ctx, claimed)
    except asyncio.CancelledError:  # the worker is stopping: the outcomes are recorded
        await asyncio.shield(hand_over(ctx["db"], ctx["redis"], list(follow_up)))
        raise
    # Hand this change's own follow-up jobs to arq now (a full drain here made every job fight
    # over the same outbox rows); anything missed stays in the outbox for the relay.
    try:
        rest = [job for job in follow_up if job.job_id not in done]
        await hand_over(ctx["db"], ctx["redis"], rest)
    except Exception as exc:  # committed already: the relay will move them
        log.warning("follow-up hand-over failed (%s); left to the relay", type(exc).__name__)
    message = {
        "shipment_id": change.shipment_id,
        "status": change.status_after.value,
        "estimated_delivery": change.eta_after.isoformat() if change.eta_after else None,
    }
    await ctx["redis"].publish(LIVE_SHIPMENT_CHANNEL + change.shipment_id, json.dumps(message))
    JOBS_RUN.labels(Job.SHIPMENT_CHANGED, ChangeOutcome.HANDLED.value).inc()
    log.info("shipment %s now %s", change.shipment_id, change.status_after.value)
    return ChangeOutcome.HANDLED


async def _claim_sends(
    ctx: JobContext, conn: AsyncConnection, jobs: list[PendingJob]
) -> list[tuple[str, Ready]]:
    """Claim the notifications due now. Their outbox jobs are marked relayed in the same
    transaction, so no relay races this job to queue them: should the worker die before the
    outcome is recorded, the reconciler finds the row by its lapsed lease (at most once)."""
    claimed = []
    for job in jobs:
        if job.function == Job.SEND_NOTIFICATION:
            ready = await claim_due_now(ctx, conn, job.args[0])
            if ready is not None:
                claimed.append((job.job_id, ready))
    await mark_enqueued(conn, [job_id for job_id, _ in claimed])
    return claimed


async def _send(ctx: JobContext, claimed: list[tuple[str, Ready]]) -> set[str]:
    """Send the claimed notifications; the ids of the jobs left with nothing to do."""
    if not claimed:
        return set()
    over = await asyncio.gather(*(send_claimed(ctx, ready) for _, ready in claimed))
    return {job_id for (job_id, _), done in zip(claimed, over, strict=True) if done}


SHIPMENT_CHANGED: Final = func(
    shipment_changed,  # type: ignore[arg-type]  # a typed ctx instead of arq's dict
    name=Job.SHIPMENT_CHANGED,
    timeout=JOB_TIMEOUT_S,
)


async def due_jobs(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[PendingJob]:
    """Reconciler finder: changes committed but not fanned out (their job may be lost)."""
    ids = await store.unprocessed_changes(conn, due_before, limit)
    return [PendingJob(store_ingest.change_job_id(i), Job.SHIPMENT_CHANGED, [i]) for i in ids]


async def purge_expired(ctx: JobContext) -> dict[str, int]:
    """Cron: drop raw payloads and relayed outbox rows past their retention."""
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=ctx["settings"].raw_payload_retention_days)
    async with ctx["db"].begin() as conn:
        raw = await store_ingest.purge_raw_payloads(conn, cutoff)
        outbox_rows = await purge_enqueued(conn, now - OUTBOX_KEEP)
        callbacks = await store_callbacks.purge(conn, now - store_callbacks.KEEP)
    purged = {"raw_payloads": raw, "outbox": outbox_rows, "provider_callbacks": callbacks}
    log.info(
        "purged %(raw_payloads)d raw payloads, %(outbox)d outbox rows, "
        "%(provider_callbacks)d provider callbacks",
        purged,
    )
    return purged
