"""Telling a store we disabled its webhook endpoint: a `store_alerts` row, then an email.

The row is written in the transaction that disables the endpoint; the `send_store_alert` job
emails the endpoint's `alert_email` through the email channel (channels/registry.py). Without an
address the row stays `pending`: the endpoint's own `disabled_reason` still tells the store.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from arq import Retry
from arq.worker import func
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import Channel, OutboundEmail, PermanentSendError, RetryableSendError
from channels.registry import build_channels, close_channels
from gateway.platform.job_context import JobContext
from gateway.platform.metrics import JOBS_RUN
from gateway.platform.names import Job
from gateway.platform.outbox import add_job
from gateway.store_webhooks import store_alerts
from gateway.store_webhooks.store import DisabledReason, Endpoint, get_by_id
from gateway.store_webhooks.store_alerts import AlertStatus, StoreAlert

log = logging.getLogger(__name__)

KIND_ENDPOINT_DISABLED: Final = "webhook_endpoint_disabled"
BACKOFF_S: Final = (30, 300, 1800, 7200)  # WorkerSettings max_tries for the job: len + 1
_REASONS: Final = {
    DisabledReason.GONE: "it answered 410 Gone",
    DisabledReason.FAILING: "every delivery to it failed for 5 days",
    DisabledReason.MANUAL: "it was turned off",
}


class AlertJobContext(JobContext, total=False):
    channels: dict[str, Channel]  # when the worker builds channels once for every job


async def endpoint_disabled(
    conn: AsyncConnection, endpoint: Endpoint, reason: DisabledReason, now: datetime
) -> None:
    """Record the alert (one per disabling) and, given an address, queue its email."""
    alert_id = f"alert_{endpoint.id}_{int(now.timestamp())}"
    alert = StoreAlert(
        id=alert_id,
        tenant_id=endpoint.tenant_id,
        kind=KIND_ENDPOINT_DISABLED,
        subject_id=endpoint.id,
        detail={"reason": reason.value, "url": endpoint.url},
        status=AlertStatus.PENDING,
        created_at=now,
    )
    await store_alerts.add(conn, alert)
    if endpoint.alert_email:
        await add_job(conn, Job.SEND_STORE_ALERT, f"store_alert:{alert_id}", alert_id)


class AlertOutcome(StrEnum):
    """How a `send_store_alert` run ended; the `lastmile_jobs_total` outcome label."""

    SENT = "sent"
    FAILED = "failed"
    NOTHING_TO_SEND = "nothing_to_send"  # no such alert, or it is not pending any more
    NO_ADDRESS = "no_address"  # the endpoint has no alert_email (or is gone)


async def send_store_alert(ctx: AlertJobContext, alert_id: str) -> AlertOutcome:
    """Email a pending alert once. Raises Retry on a retryable channel error."""
    async with ctx["db"].connect() as conn:
        alert = await store_alerts.get(conn, alert_id)
        endpoint = await get_by_id(conn, alert.subject_id) if alert else None
    if alert is None or alert.status is not AlertStatus.PENDING:
        outcome = AlertOutcome.NOTHING_TO_SEND
    elif endpoint is None or not endpoint.alert_email:
        outcome = AlertOutcome.NO_ADDRESS
    else:
        status = await _send(ctx, _email(endpoint, alert))
        async with ctx["db"].begin() as conn:
            await store_alerts.mark(conn, alert_id, status, datetime.now(UTC))
        outcome = AlertOutcome.SENT if status is AlertStatus.SENT else AlertOutcome.FAILED
    JOBS_RUN.labels(Job.SEND_STORE_ALERT, outcome.value).inc()
    return outcome


async def _send(ctx: AlertJobContext, email: OutboundEmail) -> AlertStatus:
    shared = ctx.get("channels")
    channels = shared if shared is not None else build_channels(ctx["settings"])
    try:
        await channels["email"].send(email)
    except RetryableSendError as exc:
        job_try = ctx.get("job_try", 1)
        if job_try <= len(BACKOFF_S):
            delay = max(BACKOFF_S[job_try - 1], exc.retry_after_s or 0)
            raise Retry(defer=timedelta(seconds=delay)) from exc
        log.warning("store alert email failed for good: %s", exc.code)
        return AlertStatus.FAILED
    except PermanentSendError as exc:
        log.warning("store alert email rejected: %s", exc.code)
        return AlertStatus.FAILED
    finally:
        if shared is None:
            await close_channels(channels)
    return AlertStatus.SENT


def _email(endpoint: Endpoint, alert: StoreAlert) -> OutboundEmail:
    reason = _REASONS.get(DisabledReason(alert.detail.get("reason", "manual")), "it failed")
    text = (
        f"We stopped sending webhooks to your endpoint {endpoint.url} because {reason}.\n\n"
        "Messages since then are kept for 30 days. Fix the endpoint, turn it back on with "
        f'PATCH /v1/webhook-endpoints/{endpoint.id} {{"enabled": true}}, then re-send what '
        f'it missed with POST /v1/webhook-endpoints/{endpoint.id}/replay {{"since": ...}}.\n'
    )
    body = html.escape(text).replace("\n", "<br>\n")
    return OutboundEmail(
        to=endpoint.alert_email or "",
        subject="Your webhook endpoint was disabled",
        text=text,
        html=f"<p>{body}</p>",
        custom_args={"alert_id": alert.id},
    )


ALERT_FUNCTION: Final = func(
    send_store_alert,  # type: ignore[arg-type]  # a typed ctx instead of arq's dict
    name=Job.SEND_STORE_ALERT,
    max_tries=len(BACKOFF_S) + 1,
    timeout=30,  # one email (channels time out after 10 s) and two short transactions
)
