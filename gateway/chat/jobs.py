"""Job: relay one chat message to the other side by SMS from the gateway's number, at most once.

Like a notification (gateway/notifications/jobs.py): the message moves `queued` → `sending` in a
committed transaction before the provider call, so a worker that dies during the call leaves
`sending` and the re-run records `failed`/`outcome_unknown` instead of texting twice. A
retryable provider error puts it back to `queued` and retries along BACKOFF_S. The number is
looked up when sending (the customer's from the shipment, the driver's from the drivers area)
and never logged; a customer who has opted out since gets nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from arq.worker import Retry, func
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import OutboundSMS, PermanentSendError, RetryableSendError
from gateway.chat import rules
from gateway.chat import store as chat_store
from gateway.chat.rules import RelayStatus, Sender
from gateway.chat.stops import driver_phone
from gateway.chat.store import Message
from gateway.notifications.store import is_opted_out
from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import Job
from gateway.platform.outbox import PendingJob
from gateway.tracking.store import load_shipment

log = logging.getLogger(__name__)

BACKOFF_S: Final = (5.0, 30.0, 120.0, 600.0)  # then `failed`: a chat message is soon stale
JOB_TIMEOUT_S: Final = 30.0  # one provider call, bounded by the channel's own timeout
SMS_KIND: Final = "sms"


@dataclass(frozen=True, slots=True)
class _Outgoing:
    to: str
    body: str


async def send_chat_sms(ctx: JobContext, message_id: str) -> str:
    """Idempotent by the message's relay status. Raises arq's Retry to retry."""
    step = await _claim(ctx, message_id, datetime.now(UTC))
    if isinstance(step, str):
        JOBS_RUN.labels(Job.SEND_CHAT_SMS, step.split(" ")[0]).inc()
        return step
    result = await _send(ctx, message_id, step)
    JOBS_RUN.labels(Job.SEND_CHAT_SMS, result.split(" ")[0]).inc()
    return result


SEND_CHAT_SMS: Final = func(
    send_chat_sms,  # type: ignore[arg-type]
    name=Job.SEND_CHAT_SMS,
    max_tries=len(BACKOFF_S) + 2,
    timeout=JOB_TIMEOUT_S,
)


async def due_jobs(
    conn: AsyncConnection, due_before: datetime, now: datetime, limit: int
) -> list[PendingJob]:
    """Reconciler finder: relay SMS owed (queued), or whose send lost its worker (sending)."""
    stale_before = now - timedelta(seconds=JOB_TIMEOUT_S + 10)
    ids = await chat_store.relay_due(conn, due_before, stale_before, limit)
    return [PendingJob(rules.relay_job_id(mid), Job.SEND_CHAT_SMS, [mid]) for mid in ids]


async def _claim(ctx: JobContext, message_id: str, now: datetime) -> _Outgoing | str:
    """Decide in one transaction: nothing to do, or the SMS to send (then marked `sending`)."""
    async with ctx["db"].begin() as conn:
        message = await chat_store.get(conn, message_id, lock=True)
        if message is None:
            return "missing"
        if message.relay_status is RelayStatus.SENDING:  # the last run died mid-call
            await chat_store.set_relay_status(
                conn, message.id, RelayStatus.FAILED, now, reason="outcome_unknown"
            )
            return "outcome_unknown"
        if message.relay_status is not RelayStatus.QUEUED:
            return f"done already ({message.relay_status})"
        outgoing = await _outgoing(conn, message)
        if outgoing is None:
            await chat_store.set_relay_status(
                conn, message.id, RelayStatus.FAILED, now, reason="no_reachable_number"
            )
            return "failed no_reachable_number"
        await chat_store.set_relay_status(conn, message.id, RelayStatus.SENDING, now)
    return outgoing


async def _outgoing(conn: AsyncConnection, message: Message) -> _Outgoing | None:
    """The other side's number now, and the text; None when there is no number to reach."""
    shipment = await load_shipment(conn, message.shipment_id)
    if shipment is None:
        return None
    if message.sender is Sender.CUSTOMER:
        to = await driver_phone(conn, message.tenant_id, message.driver_id)
        body = rules.sms_to_driver(rules.parcel_ref(shipment.tracking_number), message.text)
    else:
        to = shipment.recipient.get("phone")
        if to and await is_opted_out(conn, message.tenant_id, to):
            to = None  # STOP wins: the answer stays on the page
        body = rules.sms_to_customer(shipment.store_name, message.text)
    return _Outgoing(to, body) if to else None


async def _send(ctx: JobContext, message_id: str, out: _Outgoing) -> str:
    status, reason, provider_id = RelayStatus.SENT, None, None
    try:
        receipt = await ctx["channels"][SMS_KIND].send(OutboundSMS(to=out.to, body=out.body))
        provider_id = receipt.provider_id
    except RetryableSendError as exc:
        attempt = ctx.get("job_try", 1)
        if attempt <= len(BACKOFF_S):
            async with ctx["db"].begin() as conn:
                await chat_store.set_relay_status(
                    conn, message_id, RelayStatus.QUEUED, datetime.now(UTC), reason=exc.code
                )
            raise Retry(defer=BACKOFF_S[attempt - 1]) from None
        status, reason = RelayStatus.FAILED, f"retries_exhausted:{exc.code}"
    except PermanentSendError as exc:
        status, reason = RelayStatus.FAILED, exc.code
    async with ctx["db"].begin() as conn:
        await chat_store.set_relay_status(
            conn, message_id, status, datetime.now(UTC), reason=reason, provider_id=provider_id
        )
    log.info("chat message %s relayed by SMS: %s", message_id, reason or "sent")
    return f"{status.value} {reason or ''}".strip()
