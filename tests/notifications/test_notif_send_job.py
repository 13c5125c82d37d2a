"""send_notification called directly (one try at a time) and in a worker that dies mid-send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Retry
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.base import Channel, Message, Receipt
from channels.registry import build_channels, close_channels
from gateway.notifications.jobs import SendOutcome, send_notification
from gateway.notifications.plan import Trigger, plan_event
from gateway.notifications.rules import TriggerEvent
from gateway.platform.names import Job
from gateway.platform.outbox import count_pending
from gateway.platform.settings import Settings
from tests.conftest import BurstWorker
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import (
    FAST_BACKOFF_S,
    add_rule,
    carrier_event,
    job_ctx,
    notification_rows,
    notify_client,
    plan_pending_changes,
    quiet_store,
    register,
    wait_relayed,
)
from tests.support import Store

__all__ = ["job_ctx", "notify_client"]  # fixtures
NEW_YORK = ZoneInfo("America/New_York")


async def _one_queued_sms(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    ctx: dict[str, Any],
    recipient: dict[str, Any] | None = None,
    **settings: Any,
) -> tuple[Store, str, str]:
    """A store, a shipment and one planned SMS for its out-for-delivery scan."""
    store = await quiet_store(client, engine, **settings)
    await add_rule(client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(client, store, **(recipient or {}))
    await carrier_event(client, store, "out_for_delivery")
    await wait_relayed(engine)
    await plan_pending_changes(ctx)
    [row] = await notification_rows(engine, shipment_id)
    return store, shipment_id, row.id


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%H:%M")


async def test_quiet_hours_defer_until_morning_unless_urgent(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    quiet = {"start": _hhmm(now - timedelta(hours=1)), "end": _hhmm(now + timedelta(hours=1))}
    store, shipment_id, nid = await _one_queued_sms(
        notify_client, engine, job_ctx, quiet_hours=quiet
    )

    with pytest.raises(Retry) as waited:
        await send_notification(job_ctx, nid)  # type: ignore[arg-type]

    assert waited.value.defer_score is not None
    assert 3540_000 <= waited.value.defer_score <= 3600_000  # until the end, in New York time
    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.reason, row.send_after) == (
        "queued",
        "quiet_hours",
        now + timedelta(hours=1),
    )
    assert fake_providers.twilio.attempts == 0

    await notify_client.patch(
        "/v1/notification-settings",
        json={"urgent_events": ["out_for_delivery"]},
        headers=store.headers,
    )
    assert await send_notification(job_ctx, nid) is SendOutcome.SENT  # type: ignore[arg-type]
    assert len(fake_providers.twilio.requests) == 1


async def test_rate_limit_waits_at_least_retry_after(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    fake_providers.twilio.retry_after_s = 3
    recipient = {"phone": "+15555550429"}
    _, shipment_id, nid = await _one_queued_sms(notify_client, engine, job_ctx, recipient)

    with pytest.raises(Retry) as retried:
        await send_notification(job_ctx, nid)  # type: ignore[arg-type]

    assert retried.value.defer_score == 3000  # Retry-After beats the 20 ms test backoff
    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.reason, row.attempts) == ("queued", "twilio_20429", 1)


async def test_a_finished_notification_is_never_sent_again(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    _, _, nid = await _one_queued_sms(notify_client, engine, job_ctx)

    first = await send_notification(job_ctx, nid)  # type: ignore[arg-type]
    second = await send_notification(job_ctx, nid)  # type: ignore[arg-type]

    assert (first, second) == (SendOutcome.SENT, SendOutcome.DONE_ALREADY)
    assert len(fake_providers.twilio.requests) == 1


async def test_a_stopping_worker_records_the_send_in_flight(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    fake_providers.twilio.latency_s = 0.3
    shipment_id, nid = (await _one_queued_sms(notify_client, engine, job_ctx))[1:]
    job = asyncio.create_task(send_notification(job_ctx, nid))  # type: ignore[arg-type]
    for _ in range(500):  # until the provider call is under way
        if fake_providers.twilio.attempts:
            break
        await asyncio.sleep(0.01)

    job.cancel()  # what arq does to running jobs when the worker stops
    with pytest.raises(asyncio.CancelledError):
        await job

    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.provider_id) == ("sent", fake_providers.twilio.requests[0].sid)
    assert await send_notification(job_ctx, nid) is SendOutcome.DONE_ALREADY  # type: ignore[arg-type]
    assert len(fake_providers.twilio.requests) == 1


class DiesAfterSending:
    """The SMS channel, except that the worker dies right after the provider accepted."""

    name: ClassVar[str] = "twilio"
    kind: ClassVar[str] = "sms"

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.deaths = 0

    async def send(self, message: Message) -> Receipt:
        receipt = await self.inner.send(message)
        if self.deaths == 0:
            self.deaths += 1
            raise asyncio.CancelledError  # what a worker shutting down mid-job sees
        return receipt

    async def close(self) -> None:
        await self.inner.close()


async def test_a_job_killed_mid_send_is_rerun_without_sending_twice(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    provider_settings: Settings,
    fake_providers: FakeProviders,
    burst_worker: BurstWorker,
) -> None:
    channels = build_channels(provider_settings)
    dying = DiesAfterSending(channels["sms"])
    channels["sms"] = dying
    # The send job itself dies here, not the fan-out's inline send (tests/faults kills that).
    worker = burst_worker(
        provider_settings, channels=channels, notify_backoff_s=FAST_BACKOFF_S, send_inline=False
    )
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(notify_client, store)

    await carrier_event(notify_client, store, "out_for_delivery")
    await wait_relayed(engine)
    await worker.run_check()
    await worker.close()
    await close_channels(channels)

    assert dying.deaths == 1 and worker.jobs_retried == 1  # arq ran it again
    assert len(fake_providers.twilio.requests) == 1
    [row] = await notification_rows(engine, shipment_id)
    # At most once: the re-run cannot know whether the text went out, so it does not resend.
    assert (row.status, row.reason, row.body is not None) == ("failed", "outcome_unknown", True)


async def test_dispatcher_events_plan_through_the_same_rules(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    """`arriving` and `late` come from later areas: they call plan_event with their own cause."""
    store = await quiet_store(notify_client, engine)
    shipment_id = await register(notify_client, store, push_tokens=[])
    eta_at = datetime(2026, 3, 16, 18, 5, tzinfo=UTC)
    trigger = Trigger(
        cause_id=f"arriving:{shipment_id}:stop-7",
        tenant_id=store.tenant_id,
        shipment_id=shipment_id,
        event=TriggerEvent.ARRIVING,
        cause_at=datetime.now(UTC),
        facts={"eta_at": eta_at.isoformat()},
    )

    async with engine.begin() as conn:
        [nid] = await plan_event(conn, trigger)  # the default rules include `arriving`
    async with engine.begin() as conn:
        assert await plan_event(conn, trigger) == []  # the same cause queues nothing new
    assert await send_notification(job_ctx, nid) is SendOutcome.SENT  # type: ignore[arg-type]

    [sms] = fake_providers.twilio.requests
    assert sms.body.startswith(
        "Corner Books: your driver is almost there, expected Mon, Mar 16, 2:05 PM. Track:"
    )


async def test_the_fan_out_sends_a_notification_due_now_itself(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    arq_redis: ArqRedis,
    fake_providers: FakeProviders,
) -> None:
    job_ctx["send_inline"] = True  # the worker's lean path
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(notify_client, store)
    await carrier_event(notify_client, store, "out_for_delivery")
    await wait_relayed(engine)

    await plan_pending_changes(job_ctx)  # shipment_changed, run once

    assert len(fake_providers.twilio.requests) == 1
    [row] = await notification_rows(engine, shipment_id)
    assert row.status == "sent"
    queued = {job.function for job in await arq_redis.queued_jobs()}
    assert Job.SEND_NOTIFICATION not in queued  # no second job for what is done
    async with engine.connect() as conn:  # and nothing left in the outbox for the relay
        assert await count_pending(conn) == 0
