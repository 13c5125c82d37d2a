"""Job: deliver store webhook messages, in order per (endpoint, shipment), at least once.

Ordering. Every message belongs to a lane: (endpoint, shipment id), or a lane of its own when the
event names no shipment. `deliver_webhook(message_id)` does not send "its" message: it sends the
oldest message still owed in that message's lane, then the next, and so on. A message is sent only
while it heads its lane, under a short database lease, so one lane never has two sends in flight
and a newer message never overtakes an older one that is waiting for a retry.

Retries. A failed send records the attempt, sets the message's `next_attempt_at` from the schedule
(or a longer `Retry-After`), and raises arq's `Retry` with that delay: the same job, so the same
message and the same `webhook-id`, comes back when it is due. The database, not Redis, holds the
schedule: if Redis loses a deferred job, the reconciler (gateway/platform/reconcile.py) queues
the overdue lane head's job again.

Bounds. A run stops claiming further sends after RUN_BUDGET_S and hands the rest of the lane to
a fresh job, so one job lasts at most RUN_BUDGET_S + one send: arq keeps a job's in-progress
marker for the largest job timeout + 10 s, and that is how long a killed worker's job waits
before it runs again. A send's lease outlasts one request, so the re-run finds it expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

import aiohttp
from arq import Retry
from arq.worker import func
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import Job
from gateway.store_webhooks import alerts, signing
from gateway.store_webhooks import store as endpoints
from gateway.store_webhooks import store_messages as messages
from gateway.store_webhooks.schedule import BACKOFF_S, next_delay_s
from gateway.store_webhooks.sender import REQUEST_TIMEOUT_S, SendResult, post
from gateway.store_webhooks.store import DisabledReason, Endpoint
from gateway.store_webhooks.store_messages import Attempt, Message, MessageStatus

log = logging.getLogger(__name__)

LEASE_S: Final = REQUEST_TIMEOUT_S + 10.0  # one send plus bookkeeping
MAX_SENDS_PER_RUN: Final = 20  # then a fresh job carries on with the lane
RUN_BUDGET_S: Final = 15.0  # no new send is claimed after this long (the lane continues)
JOB_TIMEOUT_S: Final = RUN_BUDGET_S + REQUEST_TIMEOUT_S + 10.0
EARLY_TOLERANCE_S: Final = 2.0  # a run this close to the due time waits instead of leaving
DISABLE_AFTER: Final = timedelta(days=5)  # of nothing but failures


class WebhookJobContext(JobContext, total=False):
    webhook_http: aiohttp.ClientSession  # one per worker: worker_hooks.start_webhooks
    webhook_backoff_s: tuple[float, ...]  # tests shorten the schedule


class Outcome(StrEnum):
    """How a `deliver_webhook` run ended; the `lastmile_jobs_total` outcome label."""

    IDLE = "idle"  # nothing more owed, or the head is another run's or not due yet
    DISABLED = "disabled"  # the endpoint is off: what it was owed is kept as missed
    LANE_CONTINUES = "lane_continues"  # sent MAX_SENDS_PER_RUN: a fresh job carries on
    NO_MESSAGE = "no_message"  # its endpoint was deleted


@dataclass(frozen=True, slots=True)
class _Claim:
    endpoint: Endpoint
    message: Message


@dataclass(frozen=True, slots=True)
class _Soon:
    wait_s: float  # the head is due in a moment: wait for it rather than leave


_Next = _Claim | _Soon | Outcome


async def deliver_webhook(ctx: WebhookJobContext, message_id: str) -> Outcome:
    """Deliver the lane of `message_id`, oldest first. Raises `Retry` after a failed attempt.

    Two transactions per send: claim the head; record the attempt and claim the next head.
    """
    async with ctx["db"].begin() as conn:
        message = await messages.get_message(conn, message_id)
        if message is None:
            return _counted(Outcome.NO_MESSAGE)
        step = await _claim_head(conn, message.endpoint_id, message.lane, datetime.now(UTC))
    sent, started = 0, asyncio.get_running_loop().time()
    while isinstance(step, _Claim):
        sent += 1
        result = await _send(ctx, step)
        more = sent < MAX_SENDS_PER_RUN and _elapsed_s(started) < RUN_BUDGET_S
        step = await _record(ctx, step, result, more)
    if isinstance(step, _Soon):
        raise Retry(defer=timedelta(seconds=step.wait_s))
    bounded = sent >= MAX_SENDS_PER_RUN or _elapsed_s(started) >= RUN_BUDGET_S
    if sent and bounded and step is Outcome.IDLE:
        await _continue_lane(ctx, message)
        return _counted(Outcome.LANE_CONTINUES)
    return _counted(step)


def _counted(outcome: Outcome) -> Outcome:
    JOBS_RUN.labels(Job.DELIVER_WEBHOOK, outcome.value).inc()
    return outcome


# The database counts attempts; arq's own try limit only has to stay out of the way.
DELIVER_FUNCTION: Final = func(
    deliver_webhook,  # type: ignore[arg-type]  # a typed ctx instead of arq's dict
    name=Job.DELIVER_WEBHOOK,
    max_tries=10_000,
    timeout=JOB_TIMEOUT_S,
)


def _elapsed_s(started: float) -> float:
    return asyncio.get_running_loop().time() - started


async def _send(ctx: WebhookJobContext, claim: _Claim) -> SendResult:
    now = datetime.now(UTC)
    endpoint, message = claim.endpoint, claim.message
    stamp = int(time.time())
    headers = signing.headers(endpoint.signing_secrets(now), message.id, stamp, message.body)
    return await post(
        _session(ctx),
        endpoint.url,
        headers,
        message.body,
        allow_private=ctx["settings"].dev,
        now=now,
    )


async def _claim_head(conn: AsyncConnection, endpoint_id: str, lane: str, now: datetime) -> _Next:
    """Lease the lane's head for one attempt, inside the caller's transaction."""
    endpoint = await endpoints.get_by_id(conn, endpoint_id)
    if endpoint is None:
        return Outcome.IDLE
    if not endpoint.enabled:
        await messages.mark_endpoint_missed(conn, endpoint_id)
        return Outcome.DISABLED
    head = await messages.lane_head(conn, endpoint_id, lane)
    if head is None or (head.lease_until is not None and head.lease_until > now):
        return Outcome.IDLE
    wait_s = _seconds_until(head.next_attempt_at, now)
    if wait_s > EARLY_TOLERANCE_S:
        return Outcome.IDLE  # the run that scheduled this retry comes back for it
    if wait_s > 0:
        return _Soon(wait_s)
    if not await messages.take_lease(conn, head, now, LEASE_S):
        return Outcome.IDLE
    return _Claim(endpoint, head)


async def _record(
    ctx: WebhookJobContext, claim: _Claim, result: SendResult, claim_next: bool
) -> _Next:
    """Store the attempt and what follows from it; raises Retry when another try is due."""
    now = datetime.now(UTC)
    endpoint, message = claim.endpoint, claim.message
    delay_s = None
    if not result.ok and not result.gone:
        backoff = ctx.get("webhook_backoff_s", BACKOFF_S)
        delay_s = next_delay_s(
            message.attempts + 1, retry_after_s=result.retry_after_s, backoff_s=backoff
        )
    next_at = now + timedelta(seconds=delay_s) if delay_s is not None else None
    attempt = Attempt(
        endpoint_id=endpoint.id,
        message_id=message.id,
        attempted_at=now,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        response_body=result.response_body,
        error=result.error,
        next_retry_at=next_at,
    )
    async with ctx["db"].begin() as conn:
        status = await _settle(conn, endpoint, result, next_at, now)
        await messages.finish_attempt(conn, message, attempt, status)
        follow = await _after(conn, claim, status, claim_next, now)
    _log(message, result, status)
    if status is MessageStatus.PENDING and delay_s is not None:
        raise Retry(defer=timedelta(seconds=delay_s))  # after the commit above
    return follow


async def _after(
    conn: AsyncConnection, claim: _Claim, status: MessageStatus, claim_next: bool, now: datetime
) -> _Next:
    if status is MessageStatus.MISSED:
        return Outcome.DISABLED
    if status is MessageStatus.PENDING or not claim_next:
        return Outcome.IDLE
    return await _claim_head(conn, claim.endpoint.id, claim.message.lane, now)


async def _settle(
    conn: AsyncConnection,
    endpoint: Endpoint,
    result: SendResult,
    next_at: datetime | None,
    now: datetime,
) -> MessageStatus:
    """The endpoint's bookkeeping for this result, and the message's new status."""
    if result.ok:
        await endpoints.record_success(conn, endpoint.id)
        return MessageStatus.DELIVERED
    if result.gone:
        await _disable(conn, endpoint, DisabledReason.GONE, now)
        return MessageStatus.MISSED
    failing_since = await endpoints.record_failure(conn, endpoint.id, now)
    if now - failing_since >= DISABLE_AFTER:
        await _disable(conn, endpoint, DisabledReason.FAILING, now)
        return MessageStatus.MISSED
    return MessageStatus.PENDING if next_at is not None else MessageStatus.FAILED


async def _disable(
    conn: AsyncConnection, endpoint: Endpoint, reason: DisabledReason, now: datetime
) -> None:
    if await endpoints.disable(conn, endpoint.id, reason, now):
        await messages.mark_endpoint_missed(conn, endpoint.id)
        await alerts.endpoint_disabled(conn, endpoint, reason, now)
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason.value)


async def _continue_lane(ctx: WebhookJobContext, message: Message) -> None:
    """Hand the rest of a long lane to a fresh job (bounded runs; other lanes get a turn)."""
    async with ctx["db"].connect() as conn:
        head = await messages.lane_head(conn, message.endpoint_id, message.lane)
    if head is not None:
        job_id = f"webhook:{head.id}:after:{message.id}:{head.attempts}"
        await ctx["redis"].enqueue_job(Job.DELIVER_WEBHOOK, head.id, _job_id=job_id)


def _session(ctx: WebhookJobContext) -> aiohttp.ClientSession:
    session = ctx.get("webhook_http")
    if session is None:
        raise RuntimeError("worker started without the webhook HTTP session (start_webhooks)")
    return session


def _seconds_until(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else (moment - now).total_seconds()


def _log(message: Message, result: SendResult, status: MessageStatus) -> None:
    log.info(
        "webhook %s attempt %d: %s (%s, %d ms) -> %s",
        message.id,
        message.attempts + 1,
        result.status_code,
        result.error or "ok",
        result.latency_ms,
        status.value,
    )
