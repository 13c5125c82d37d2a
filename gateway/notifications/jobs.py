"""Job: send one notification through its channel, at most once.

At-most-once, on purpose: the row moves `queued` → `sending` (with the rendered message and a
lease) in a committed transaction *before* the provider call, and only a `queued` row is ever
sent. A worker that dies during the call leaves `sending`; once its lease has run out, the
re-run (arq's, or the reconciler's when Redis lost the job) marks it `failed`/`outcome_unknown`
instead of sending again, because no provider here deduplicates a repeated request and a
customer must never get the same text twice. A provider that took the request but never
answered (a Twilio timeout: the SMS may well have gone out) ends the same way. Twilio's status
callback (it carries the notification id) and SendGrid's events (custom arg) still move such a
row to sent/delivered; otherwise the store sees it in `GET /v1/notifications?reason=
outcome_unknown` and may re-send it on purpose (`POST /v1/notifications/{id}/resend`).
A worker that is *stopped* (arq cancels running jobs) lets the provider call finish and records
its outcome first, so a deploy does not turn sent messages into `outcome_unknown`.

Waiting is done with arq's `Retry(defer=...)`, which keeps the job id: the collapse window
(leading edge: the first news goes out at once, news within the window after it waits for the
window to close; newer news for the same shipment and channel suppresses this one as
`superseded`, and a burst whose newest news is what the customer heard last ends `unchanged`),
quiet hours in the recipient's zone, and retryable provider errors along BACKOFF_S with jitter
(a provider's Retry-After is a floor). Each wait's end is also kept in the row's `send_after`,
so the reconciler can queue the job again from the database alone if Redis loses it. Provider
attempts are counted on the row, not by arq's job_try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from arq.worker import Retry, func
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import OutcomeUnknownError, PermanentSendError, Receipt, RetryableSendError
from gateway.notifications import outcome, store
from gateway.notifications import store_reads as reads
from gateway.notifications.compose import Composed, compose
from gateway.notifications.plan import send_job_id
from gateway.notifications.rules import (
    NotificationStatus,
    Reason,
    quiet_until,
    retry_delay_s,
)
from gateway.notifications.store import Notification
from gateway.notifications.store_reads import SendView
from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import Job
from gateway.platform.outages import Backoff, database_unreachable
from gateway.platform.outbox import PendingJob, collect_added_jobs
from gateway.platform.relay import hand_over

log = logging.getLogger(__name__)

BACKOFF_S: Final = (5.0, 30.0, 120.0, 600.0, 1800.0)  # then `failed`, and the next channel
MAX_JOB_TRIES: Final = 30  # arq's bound; deferrals and retries together stay far below it
# A run: two short transactions and one provider call (channels time out after 10 s). arq
# re-runs a killed worker's job when its in-progress key expires: the largest job timeout + 10 s.
JOB_TIMEOUT_S: Final = 30.0
# Longer than a run can still record the provider's answer (timeout, then the call it lets
# finish), shorter than arq's in-progress key, so the re-run after a kill finds it expired.
SEND_LEASE_S: Final = 45.0
_LEASE: Final = timedelta(seconds=SEND_LEASE_S)
RECORD_PATIENCE_S: Final = 15.0  # the provider answered: keep trying to write down what it said
_T = TypeVar("_T")


class SendOutcome(StrEnum):
    """What one run of `send_notification` did; the `lastmile_jobs_total` outcome label."""

    SENT = "sent"
    FAILED = "failed"  # for good on this channel (a fallback may have been queued)
    SUPPRESSED = "suppressed"  # superseded by fresher news, or the number said STOP
    OUTCOME_UNKNOWN = "outcome_unknown"  # a previous run died during the provider call
    DONE_ALREADY = "done"  # not queued any more: a duplicate run
    CLAIMED_ELSEWHERE = "claimed"  # another run claimed it first
    MISSING = "missing"  # no such notification


@dataclass(frozen=True, slots=True)
class Ready:
    row: Notification
    composed: Composed


@dataclass(frozen=True, slots=True)
class _Wait:
    until: datetime


async def send_notification(ctx: JobContext, notification_id: str) -> SendOutcome:
    """Idempotent by the row's status. Raises arq's Retry to wait or to retry."""
    step = await _prepare(ctx, notification_id)
    if isinstance(step, _Wait):
        return await _defer(ctx, notification_id, step.until)
    outcome = step if isinstance(step, SendOutcome) else await _deliver(ctx, step)
    JOBS_RUN.labels(Job.SEND_NOTIFICATION, outcome.value).inc()
    return outcome


SEND_NOTIFICATION: Final = func(
    send_notification,  # type: ignore[arg-type]
    name=Job.SEND_NOTIFICATION,
    max_tries=MAX_JOB_TRIES,
    timeout=JOB_TIMEOUT_S,
)


async def claim_due_now(
    ctx: JobContext, conn: AsyncConnection, notification_id: str
) -> Ready | None:
    """In the transaction that planned it: claim a notification that is due now, so the planning
    job sends it right after commit instead of a separate `send_notification` job.

    None when it is not to be sent now (a wait, a suppression, claimed elsewhere): its job,
    handed to arq as usual, decides. A claimed row's job stays in the outbox as the safety net:
    if this worker dies before the outcome is recorded, the job finds the lease and treats the
    send as it would its own run's (at most once).
    """
    view = await reads.load_for_send(conn, notification_id)
    if view is None or view.row.status is not NotificationStatus.QUEUED:
        return None
    if view.row.send_after is not None:
        return None  # a collapse window or a back-off: the job waits it out
    now = datetime.now(UTC)
    if await _hold(conn, view, now) is not None:
        return None
    composed = await compose(conn, view, ctx["settings"].public_url)
    if not await store.claim(conn, view.row.id, composed.columns(), now + _LEASE):
        return None
    return Ready(view.row, composed)


async def send_claimed(ctx: JobContext, ready: Ready) -> bool:
    """The provider call for a row `claim_due_now` claimed; True when its job has nothing left
    to do (sent, or failed for good), False when it must run (a retry after a back-off)."""
    try:
        outcome_ = await _deliver(ctx, ready)
    except Retry:
        return False  # released with its retry time: the job, when it runs, waits for it
    JOBS_RUN.labels(Job.SEND_NOTIFICATION, outcome_.value).inc()
    return True


async def due_jobs(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[PendingJob]:
    """Reconciler finder: notifications due to be sent (or whose send lost its worker)."""
    ids = await store.due_for_send(conn, due_before, now, limit)
    return [PendingJob(send_job_id(nid), Job.SEND_NOTIFICATION, [nid]) for nid in ids]


async def _prepare(ctx: JobContext, notification_id: str) -> Ready | _Wait | SendOutcome:
    """Decide, in one transaction: not at all, not yet, or now (then claim and render)."""
    now = datetime.now(UTC)
    with collect_added_jobs() as follow_up:
        prepared = await _prepare_in_transaction(ctx, notification_id, now)
    # An opted-out channel's fallback job goes to arq now, not at the next relay poll.
    await hand_over(ctx["db"], ctx["redis"], follow_up)
    return prepared


async def _prepare_in_transaction(
    ctx: JobContext, notification_id: str, now: datetime
) -> Ready | _Wait | SendOutcome:
    async with ctx["db"].begin() as conn:
        view = await reads.load_for_send(conn, notification_id)
        if view is None:
            return SendOutcome.MISSING
        row = view.row
        if row.status is NotificationStatus.SENDING:
            # arq runs one job id at a time, so its re-run (job_try > 1) follows a run that is
            # over. A first run that finds a live lease came from elsewhere (a reconciler while
            # Redis was being restored): the claiming run may still record the answer.
            if ctx.get("job_try", 1) == 1 and row.lease_until and row.lease_until > now:
                return _Wait(row.lease_until)
            # The previous run died during the provider call: it may have gone out.
            await outcome.mark_failed(conn, row, Reason.OUTCOME_UNKNOWN.value, fallback=False)
            return SendOutcome.OUTCOME_UNKNOWN
        if row.status is not NotificationStatus.QUEUED:
            return SendOutcome.DONE_ALREADY
        held = await _hold(conn, view, now)
        if held is not None:
            return held
        composed = await compose(conn, view, ctx["settings"].public_url)
        if not await store.claim(conn, row.id, composed.columns(), now + _LEASE):
            return SendOutcome.CLAIMED_ELSEWHERE
        return Ready(row, composed)


async def _hold(conn: AsyncConnection, view: SendView, now: datetime) -> _Wait | SendOutcome | None:
    """Why a queued row is not sent now: fresher news, an opt-out, a wait, nothing new to say."""
    row = view.row
    if view.superseded:
        await outcome.suppress(conn, row, Reason.SUPERSEDED)
        return SendOutcome.SUPPRESSED
    if view.opted_out:
        await outcome.suppress(conn, row, Reason.OPTED_OUT, fallback=True)
        return SendOutcome.SUPPRESSED
    waiting = row.reason != Reason.QUIET_HOURS.value  # quiet hours are re-checked each run
    if waiting and row.send_after is not None and row.send_after > now:
        return _Wait(row.send_after)
    if row.reason == Reason.COLLAPSE_WINDOW.value and await _nothing_new(conn, row):
        await outcome.suppress(conn, row, Reason.UNCHANGED)
        return SendOutcome.SUPPRESSED
    quiet = await _quiet_until(conn, view, now)
    return _Wait(quiet) if quiet is not None else None


async def _nothing_new(conn: AsyncConnection, row: Notification) -> bool:
    """A burst closed on what the customer heard last (e.g. delivered → exception → delivered)."""
    heard = await reads.last_heard(conn, row)
    return heard is not None and heard == (row.event.value, row.facts)


async def _quiet_until(conn: AsyncConnection, view: SendView, now: datetime) -> datetime | None:
    """Quiet hours in the recipient's zone (unless the event is urgent)."""
    row, settings = view.row, view.settings
    if settings.quiet_hours is None or row.event in settings.urgent_events:
        return None
    until = quiet_until(now, view.recipient.zone, settings.quiet_hours.window())
    if until is not None:
        await store.defer(conn, row.id, until, Reason.QUIET_HOURS)
    return until


async def _defer(ctx: JobContext, notification_id: str, until: datetime) -> SendOutcome:
    if ctx.get("job_try", 1) >= MAX_JOB_TRIES:  # arq would drop the job silently: record it
        async with ctx["db"].begin() as conn:
            row = await store.get(conn, notification_id)
            if row is None:
                return SendOutcome.MISSING
            await outcome.mark_failed(conn, row, Reason.RETRIES_EXHAUSTED.value, fallback=False)
        JOBS_RUN.labels(Job.SEND_NOTIFICATION, SendOutcome.FAILED.value).inc()
        return SendOutcome.FAILED
    delay_s = max((until - datetime.now(UTC)).total_seconds(), 0.01)
    raise Retry(defer=delay_s)


async def _deliver(ctx: JobContext, ready: Ready) -> SendOutcome:
    """Send, then record the outcome, even when the worker is being stopped meanwhile."""
    channel = ctx["channels"][ready.row.channel]
    call = asyncio.ensure_future(channel.send(ready.composed.message))
    try:
        await asyncio.wait([call])  # a cancellation reaches this task, never the call
    except asyncio.CancelledError:
        # arq cancels running jobs when the worker stops (a deploy). The provider call is
        # bounded by the channel's timeout: let it answer and record what it said, so the
        # re-run finds `sent` instead of an `outcome_unknown` it must not resend.
        await asyncio.wait([call])
        with contextlib.suppress(Retry):
            await _record(ctx, ready, call)
        raise
    return await _record(ctx, ready, call)


async def _record(ctx: JobContext, ready: Ready, call: asyncio.Future[Receipt]) -> SendOutcome:
    row, attempt = ready.row, ready.row.attempts + 1
    try:
        receipt = call.result()
    except RetryableSendError as exc:
        backoff = ctx.get("notify_backoff_s", BACKOFF_S)
        delay_s = retry_delay_s(attempt, backoff, exc.retry_after_s)
        if delay_s is not None and ctx.get("job_try", 1) < MAX_JOB_TRIES:
            code, retry_at = exc.code, datetime.now(UTC) + timedelta(seconds=delay_s)
            await _in_transaction(ctx, lambda c: store.release(c, row.id, code, retry_at))
            log.info("notification %s: %s, retry %d in %.1fs", row.id, exc.code, attempt, delay_s)
            raise Retry(defer=delay_s) from None
        return await _failed(ctx, row, f"{Reason.RETRIES_EXHAUSTED.value}:{exc.code}", None)
    except OutcomeUnknownError as exc:
        log.warning("notification %s: outcome unknown (%s), not sent again", row.id, exc.code)
        return await _failed(ctx, row, Reason.OUTCOME_UNKNOWN.value, None, fallback=False)
    except PermanentSendError as exc:
        return await _failed(ctx, row, exc.code, exc)
    await _in_transaction(ctx, lambda c: outcome.mark_sent(c, row, receipt.provider_id))
    log.info("notification %s sent by %s", row.id, ctx["channels"][row.channel].name)
    return SendOutcome.SENT


async def _failed(
    ctx: JobContext,
    row: Notification,
    reason: str,
    error: PermanentSendError | None,
    *,
    fallback: bool = True,
) -> SendOutcome:
    with collect_added_jobs() as follow_up:
        fell_back = await _in_transaction(
            ctx, lambda c: outcome.mark_failed(c, row, reason, error=error, fallback=fallback)
        )
    # The fallback's own job goes to arq now rather than at the next relay poll.
    await hand_over(ctx["db"], ctx["redis"], follow_up)
    if fell_back:
        log.info("notification %s failed (%s); fell back to the next channel", row.id, reason)
    if reason == Reason.OUTCOME_UNKNOWN.value:
        return SendOutcome.OUTCOME_UNKNOWN
    return SendOutcome.FAILED


async def _in_transaction(ctx: JobContext, write: Callable[[AsyncConnection], Awaitable[_T]]) -> _T:
    """Commit `write`; the provider has answered, so a database blip (a restart) must not lose
    what it said: retry for up to RECORD_PATIENCE_S, then give up (the lease runs out and the
    re-run records `outcome_unknown`)."""
    backoff = Backoff(0.2, 2.0)
    deadline = asyncio.get_running_loop().time() + RECORD_PATIENCE_S
    while True:
        try:
            async with ctx["db"].begin() as conn:
                return await write(conn)
        except Exception as exc:
            if not database_unreachable(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("recording a send outcome failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(backoff.next_delay_s())
