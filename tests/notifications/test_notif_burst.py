"""The burst window, leading edge: the first news goes out at once; news soon after it collapses
into one message when the window closes, and only if it says something new.

Jobs are called directly, one try at a time; "the window closes" is the rows' `send_after`
moved into the past, which is what the send job (and the reconciler) go by.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Retry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.notifications.jobs import SendOutcome, send_notification
from gateway.notifications.plan import send_job_id
from gateway.notifications.tables import notifications
from gateway.platform.appkeys import RELAY
from gateway.platform.reconcile import reconcile
from gateway.platform.relay import OutboxRelay
from gateway.recovery import FINDERS
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import (
    TRACKING_NUMBER,
    add_rule,
    job_ctx,
    notification_rows,
    notify_client,
    plan_pending_changes,
    quiet_store,
    register,
)
from tests.support import Store, connect_carrier, load_fixture, post_fixture

__all__ = ["job_ctx", "notify_client"]  # fixtures
WINDOW_S = 600  # long enough that nothing here waits it out by accident
N = notifications.c
NEW_YORK = ZoneInfo("America/New_York")  # the test recipient's zone


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%H:%M")


def _scan(case: str, at: str | None = None) -> dict[str, Any]:
    """A UPS fixture for the test parcel; `at` ("YYYYMMDD HHMMSS", UTC) moves the scan."""
    fixture = load_fixture("ups", case)
    body = json.loads(fixture["request"]["body"])
    body["trackingNumber"] = TRACKING_NUMBER
    if at is not None:
        body["gmtActivityDate"], body["gmtActivityTime"] = at.split()
        body["localActivityDate"], body["localActivityTime"] = at.split()
        body["gmtOffset"] = "+00:00"
    fixture["request"]["body"] = json.dumps(body)
    return fixture


class Parcel:
    """One store, one registered parcel, an SMS rule; scans go in through the real webhook."""

    def __init__(self, client: TestClient[Any, Any], engine: AsyncEngine, ctx: dict[str, Any]):
        self.client, self.engine, self.ctx = client, engine, ctx
        self.store: Store | None = None
        self.path = ""
        self.shipment_id = ""

    async def open(self, **settings: Any) -> Parcel:
        await self.client.app[RELAY].stop()  # jobs are run by hand here
        body = {"collapse_window_s": WINDOW_S, **settings}
        self.store = await quiet_store(self.client, self.engine, **body)
        events = ["in_transit", "out_for_delivery", "exception", "delivered"]
        await add_rule(self.client, self.store, events, ["sms"])
        # no email address: a delivery's proof would be emailed besides
        self.shipment_id = await register(self.client, self.store, email=None)
        return self

    async def scans(self, *fixtures: dict[str, Any], run: bool = True) -> None:
        """POST the scans, plan what they cause, and (`run`) run each queued send once."""
        assert self.store is not None
        for fixture in fixtures:
            self.path = self.path or await connect_carrier(self.client, self.store, fixture)
            response = await post_fixture(self.client, self.path, fixture)
            assert response.status == 202, await response.text()
        await plan_pending_changes(self.ctx)
        if run:
            await self.run_queued()

    async def run_queued(self) -> None:
        for row in await notification_rows(self.engine, self.shipment_id):
            if row.status == "queued":
                with contextlib.suppress(Retry):  # a wait: arq would run it again later
                    await send_notification(self.ctx, row.id)  # type: ignore[arg-type]

    async def close_window(self) -> None:
        """The window's end has come: the waiting rows are due (as if the clock moved on)."""
        past = datetime.now(UTC) - timedelta(seconds=1)
        async with self.engine.begin() as conn:
            waiting = sa.and_(N.shipment_id == self.shipment_id, N.status == "queued")
            await conn.execute(notifications.update().where(waiting).values(send_after=past))
        for row in await notification_rows(self.engine, self.shipment_id):
            if row.status == "queued":
                await send_notification(self.ctx, row.id)  # type: ignore[arg-type]

    async def log(self) -> list[tuple[str, str, str | None]]:
        rows = await notification_rows(self.engine, self.shipment_id)
        return [(r.event, r.status, r.reason) for r in rows]


@pytest.fixture
def parcel(
    notify_client: TestClient[Any, Any], engine: AsyncEngine, job_ctx: dict[str, Any]
) -> Parcel:
    return Parcel(notify_client, engine, job_ctx)


async def test_the_first_news_goes_out_at_once(
    parcel: Parcel, fake_providers: FakeProviders
) -> None:
    await parcel.open()

    await parcel.scans(_scan("departed_facility_utc_next_day"))

    [sms] = fake_providers.twilio.requests
    assert "your order shipped" in sms.body
    assert await parcel.log() == [("in_transit", "sent", None)]


async def test_news_within_the_window_collapses_into_one_message_at_its_close(
    parcel: Parcel, fake_providers: FakeProviders
) -> None:
    await parcel.open()
    await parcel.scans(_scan("departed_facility_utc_next_day"))

    await parcel.scans(
        _scan("exception_weather_delay", "20260315 113000"),
        _scan("out_for_delivery"),
        _scan("delivered_signature_and_photo"),
    )
    assert len(fake_providers.twilio.requests) == 1  # the newest waits for the window's close
    assert (await parcel.log())[-1] == ("delivered", "queued", "collapse_window")

    await parcel.close_window()

    _, last = fake_providers.twilio.requests
    assert "your order was delivered" in last.body
    assert await parcel.log() == [
        ("in_transit", "sent", None),
        ("exception", "suppressed", "superseded"),
        ("out_for_delivery", "suppressed", "superseded"),
        ("delivered", "sent", None),
    ]


async def test_a_burst_ending_where_it_began_sends_nothing_more(
    parcel: Parcel, fake_providers: FakeProviders
) -> None:
    await parcel.open()
    await parcel.scans(_scan("out_for_delivery"))

    # A weather delay, then out for delivery again: the customer knows that already.
    await parcel.scans(
        _scan("exception_weather_delay", "20260316 130000"),
        _scan("out_for_delivery", "20260316 140000"),
    )
    await parcel.close_window()

    [sms] = fake_providers.twilio.requests
    assert "out for delivery" in sms.body.lower()
    assert await parcel.log() == [
        ("out_for_delivery", "sent", None),
        ("exception", "suppressed", "superseded"),
        ("out_for_delivery", "suppressed", "unchanged"),
    ]


async def test_news_after_the_window_goes_out_at_once(
    parcel: Parcel, engine: AsyncEngine, fake_providers: FakeProviders
) -> None:
    await parcel.open()
    await parcel.scans(_scan("out_for_delivery"))
    long_ago = datetime.now(UTC) - timedelta(seconds=WINDOW_S + 60)
    async with engine.begin() as conn:  # the first SMS left longer ago than the window
        await conn.execute(notifications.update().values(sent_at=long_ago))

    await parcel.scans(_scan("delivered_signature_and_photo"))

    assert len(fake_providers.twilio.requests) == 2
    assert await parcel.log() == [("out_for_delivery", "sent", None), ("delivered", "sent", None)]


async def test_quiet_hours_still_hold_the_first_news(
    parcel: Parcel, fake_providers: FakeProviders
) -> None:
    now = datetime.now(UTC)
    quiet = {"start": _hhmm(now - timedelta(hours=1)), "end": _hhmm(now + timedelta(hours=1))}
    await parcel.open(quiet_hours=quiet)

    await parcel.scans(_scan("out_for_delivery"), run=False)
    [row] = await notification_rows(parcel.engine, parcel.shipment_id)
    with pytest.raises(Retry):  # it waits for the end of quiet hours
        await send_notification(parcel.ctx, row.id)  # type: ignore[arg-type]

    assert fake_providers.twilio.requests == []
    assert await parcel.log() == [("out_for_delivery", "queued", "quiet_hours")]


async def test_a_burst_waiting_to_close_survives_an_empty_redis(
    parcel: Parcel,
    engine: AsyncEngine,
    redis: Redis,
    arq_redis: ArqRedis,
    fake_providers: FakeProviders,
) -> None:
    await parcel.open()
    await parcel.scans(_scan("out_for_delivery"))
    await parcel.scans(_scan("delivered_signature_and_photo"))
    await OutboxRelay(engine, arq_redis).drain()  # the waiting send's job is in Redis

    await redis.flushall()  # Redis restarted empty: the deferred job is gone
    assert await reconcile(engine, arq_redis, FINDERS) == {}  # the window is still open
    async with engine.begin() as conn:  # the window closes
        past = datetime.now(UTC) - timedelta(hours=1)
        waiting = notifications.update().where(N.status == "queued")
        await conn.execute(waiting.values(send_after=past))
    assert await reconcile(engine, arq_redis, FINDERS) == {"send_notification": 1}

    [job] = await arq_redis.queued_jobs()
    [nid] = job.args
    assert job.job_id == send_job_id(nid)  # the id the original job had: never two of them
    assert await send_notification(parcel.ctx, nid) is SendOutcome.SENT  # type: ignore[arg-type]
    assert len(fake_providers.twilio.requests) == 2
