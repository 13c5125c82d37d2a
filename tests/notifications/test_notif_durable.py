"""Notifications survive Redis losing their jobs, and are never sent twice when in doubt.

The reconciler re-queues from the database alone: a send waiting out its retry back-off (the
collapse window's wait: test_notif_burst.py), and a send whose worker died mid-call (which then
ends as `outcome_unknown`, not as a second SMS). A Twilio timeout is the same doubt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Retry, Worker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.twilio_sms import TwilioSMS
from gateway.notifications.jobs import SEND_LEASE_S, SendOutcome, send_notification
from gateway.notifications.tables import notifications
from gateway.platform.appkeys import RELAY
from gateway.platform.reconcile import reconcile
from gateway.platform.relay import OutboxRelay
from gateway.recovery import FINDERS
from gateway.shipments.tables import shipment_changes
from tests.fakes.fake_providers import TWILIO_FROM_NUMBER, FakeProviders
from tests.notifications.notif_support import (
    add_rule,
    carrier_event,
    job_ctx,
    notification_rows,
    notify_client,
    notify_worker,
    plan_pending_changes,
    quiet_store,
    register,
    wait_relayed,
)

__all__ = ["job_ctx", "notify_client", "notify_worker"]  # fixtures
AN_HOUR_AGO = timedelta(hours=1)


async def _set(engine: AsyncEngine, table: sa.Table, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.update().values(**values))


async def _planned_sms(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    ctx: dict[str, Any],
    recipient: dict[str, Any] | None = None,
    **settings: Any,
) -> tuple[str, str]:
    """One SMS planned for an out-for-delivery scan, its job relayed to arq; (shipment, id)."""
    await client.app[RELAY].stop()  # the test moves the outbox itself: no relay races it
    store = await quiet_store(client, engine, **settings)
    await add_rule(client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(client, store, **(recipient or {}))
    await carrier_event(client, store, "out_for_delivery")
    await plan_pending_changes(ctx)
    await OutboxRelay(engine, ctx["redis"]).drain()  # the send job is in Redis now
    [row] = await notification_rows(engine, shipment_id)
    return shipment_id, row.id


async def test_a_retry_back_off_is_kept_in_the_database(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    arq_redis: ArqRedis,
    redis: Redis,
) -> None:
    shipment_id, nid = await _planned_sms(
        notify_client, engine, job_ctx, recipient={"phone": "+15555550500"}
    )
    job_ctx["notify_backoff_s"] = (300.0,)
    before = datetime.now(UTC)

    with pytest.raises(Retry):
        await send_notification(job_ctx, nid)  # type: ignore[arg-type]

    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.reason) == ("queued", "twilio_20500")
    assert row.send_after is not None and row.send_after >= before + timedelta(seconds=240)
    await redis.flushall()
    assert await reconcile(engine, arq_redis, FINDERS) == {}  # the retry is not due yet


async def test_a_change_relayed_before_redis_was_lost_is_fanned_out(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    arq_redis: ArqRedis,
    redis: Redis,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(notify_client, store)
    await carrier_event(notify_client, store, "out_for_delivery")
    await wait_relayed(engine)  # the gateway's relay handed the job to arq...
    await redis.flushall()  # ...and Redis lost it

    await _set(engine, shipment_changes, created_at=datetime.now(UTC) - AN_HOUR_AGO)
    assert await reconcile(engine, arq_redis, FINDERS) == {"shipment_changed": 1}
    await notify_worker.run_check()  # the change, then the send job it planned

    [row] = await notification_rows(engine, shipment_id)
    assert row.status == "sent" and len(fake_providers.twilio.requests) == 1


async def test_a_send_whose_worker_died_is_not_sent_again(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    notify_worker: Worker,
    arq_redis: ArqRedis,
    redis: Redis,
    fake_providers: FakeProviders,
) -> None:
    shipment_id, _ = await _planned_sms(notify_client, engine, job_ctx)
    await redis.flushall()
    lease_left = datetime.now(UTC) + timedelta(seconds=SEND_LEASE_S / 2)
    await _set(engine, notifications, status="sending", lease_until=lease_left)

    assert await reconcile(engine, arq_redis, FINDERS) == {}  # its run may still answer
    await _set(engine, notifications, lease_until=datetime.now(UTC) - timedelta(seconds=1))
    assert await reconcile(engine, arq_redis, FINDERS) == {"send_notification": 1}
    await notify_worker.run_check()

    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.reason) == ("failed", "outcome_unknown")
    assert fake_providers.twilio.attempts == 0  # at most once: no second try


async def test_a_first_run_meeting_a_live_lease_waits_for_it(
    notify_client: TestClient[Any, Any], engine: AsyncEngine, job_ctx: dict[str, Any]
) -> None:
    """Only a reconciler racing a live send can start a first run on a `sending` row."""
    _, nid = await _planned_sms(notify_client, engine, job_ctx)
    lease_until = datetime.now(UTC) + timedelta(seconds=20)
    await _set(engine, notifications, status="sending", lease_until=lease_until)

    with pytest.raises(Retry) as waited:
        await send_notification(job_ctx, nid)  # type: ignore[arg-type]
    assert waited.value.defer_score is not None and 15_000 < waited.value.defer_score <= 20_000

    # arq's re-run of the same job follows a run that is over: no waiting, no second send.
    result = await send_notification(job_ctx | {"job_try": 2}, nid)  # type: ignore[arg-type]
    assert result == "outcome_unknown"


async def test_a_twilio_timeout_is_an_unknown_outcome_without_fallback(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    fake_providers.twilio.stall_s = 2.0
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms", "email"])
    shipment_id = await register(notify_client, store, phone="+15555550408", push_tokens=[])
    await carrier_event(notify_client, store, "out_for_delivery")
    await wait_relayed(engine)
    await plan_pending_changes(job_ctx)
    [row] = await notification_rows(engine, shipment_id)
    twilio = fake_providers.twilio
    job_ctx["channels"]["sms"] = TwilioSMS(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        from_number=TWILIO_FROM_NUMBER,
        base_url=fake_providers.twilio_url,
        timeout_s=0.3,
    )
    try:
        result = await send_notification(job_ctx, row.id)  # type: ignore[arg-type]
    finally:
        await job_ctx["channels"]["sms"].close()

    assert result == SendOutcome.OUTCOME_UNKNOWN
    # Twilio has the message: retrying, or falling back to email, could reach the customer twice.
    assert [r.to for r in twilio.requests] == ["+15555550408"]
    [after] = await notification_rows(engine, shipment_id)
    assert (after.status, after.reason) == ("failed", "outcome_unknown")
    assert fake_providers.sendgrid.requests == []
