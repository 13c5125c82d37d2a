"""The relay SMS job through the real Twilio SDK against the fake Twilio: at most once, retried
on a provider error, never to a customer who said STOP in the meantime, queued again when Redis
lost it; and the SMS side of the rate limit and of a driver with nothing on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Retry, Worker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.chat import store as chat_store
from gateway.chat.jobs import send_chat_sms
from gateway.chat.rules import RelayStatus
from gateway.chat.tables import chat_messages
from gateway.platform.appkeys import CLOCK, RELAY
from gateway.platform.reconcile import reconcile
from gateway.platform.settings import Settings
from gateway.recovery import FINDERS
from tests.chat.chat_support import (
    CUSTOMER,
    DRIVER,
    delivery_on_the_way,
    driver_says,
    text_gateway,
)
from tests.drivers.drivers_support import stop_event
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import job_ctx, notify_worker
from tests.support import count_rows

__all__ = ["job_ctx", "notify_worker"]  # fixtures


@pytest.fixture
async def chat_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


async def relay_status(engine: AsyncEngine, message_id: str) -> tuple[str, str | None]:
    async with engine.connect() as conn:
        found = await chat_store.get(conn, message_id)
    assert found is not None
    return found.relay_status.value, found.relay_reason


async def answer(client: TestClient[Any, Any], delivery: Any, text: str) -> str:
    response = await driver_says(client, delivery.driver, delivery.shipment_id, text)
    assert response.status == 201, await response.text()
    message_id: str = (await response.json())["id"]
    return message_id


async def test_a_provider_error_is_retried_and_the_sms_goes_out_once(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    job_ctx: dict[str, Any],
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    message_id = await answer(chat_client, delivery, "Two minutes away")
    fake_providers.twilio.fail_next(1, status=503)

    with pytest.raises(Retry):
        await send_chat_sms(job_ctx, message_id)  # type: ignore[arg-type]
    assert await relay_status(engine, message_id) == ("queued", "twilio_20503")
    second = await send_chat_sms({**job_ctx, "job_try": 2}, message_id)  # type: ignore[arg-type]
    again = await send_chat_sms({**job_ctx, "job_try": 3}, message_id)  # type: ignore[arg-type]

    assert second == "sent" and again.startswith("done already")
    bodies = [r.body for r in fake_providers.twilio.requests if r.to == CUSTOMER]
    assert bodies.count("Corner Books driver: Two minutes away") == 1


async def test_a_run_that_died_mid_call_is_never_sent_again(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    job_ctx: dict[str, Any],
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    message_id = await answer(chat_client, delivery, "Here")
    async with engine.begin() as conn:  # what a worker killed during the provider call leaves
        await conn.execute(
            chat_messages.update()
            .where(chat_messages.c.id == message_id)
            .values(relay_status=RelayStatus.SENDING.value)
        )
    before = len(fake_providers.twilio.requests)

    assert await send_chat_sms(job_ctx, message_id) == "outcome_unknown"  # type: ignore[arg-type]
    assert await relay_status(engine, message_id) == ("failed", "outcome_unknown")
    assert len(fake_providers.twilio.requests) == before


async def test_stop_between_the_answer_and_its_sms_wins(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    job_ctx: dict[str, Any],
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    message_id = await answer(chat_client, delivery, "Ringing the bell")
    await text_gateway(chat_client, CUSTOMER, "stop")
    before = len(fake_providers.twilio.requests)

    result = await send_chat_sms(job_ctx, message_id)  # type: ignore[arg-type]

    assert result == "failed no_reachable_number"
    assert len(fake_providers.twilio.requests) == before


async def test_a_customer_texting_too_fast_is_told_once_per_text(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    await delivery_on_the_way(chat_client, engine, notify_worker)
    replies = [await text_gateway(chat_client, CUSTOMER, f"hello {n}") for n in range(4)]
    texts = [await reply.text() for reply in replies]

    assert all("<Message>" not in text for text in texts[:3])
    assert "too many in a row" in texts[3] and CUSTOMER not in texts[3]
    assert await count_rows(engine, chat_messages) == 3


async def test_a_driver_with_nothing_on_the_way_is_not_relayed(
    chat_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    now = chat_client.app[CLOCK].now()
    done = await stop_event(chat_client, delivery.driver, delivery.shipment_id, "delivered", now)
    assert done.status in (200, 201), await done.text()

    reply = await text_gateway(chat_client, DRIVER, "anyone there?")

    assert "<Message>" not in await reply.text()
    assert await count_rows(engine, chat_messages) == 0


async def test_a_relay_lost_with_redis_is_queued_again_and_sent_once(
    chat_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    redis: Redis,
    arq_redis: ArqRedis,
) -> None:
    delivery = await delivery_on_the_way(chat_client, engine, notify_worker)
    await chat_client.app[RELAY].stop()  # the test moves the outbox itself: no relay races it
    message_id = await answer(chat_client, delivery, "At your door")  # handed to arq at once
    assert await reconcile(engine, arq_redis, FINDERS) == {}  # its job is in Redis

    await redis.flushall()  # Redis restarted empty: the job is gone, the row says it is owed
    async with engine.begin() as conn:  # older than the reconciler's grace period
        await conn.execute(
            chat_messages.update()
            .where(chat_messages.c.id == message_id)
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert await reconcile(engine, arq_redis, FINDERS) == {"send_chat_sms": 1}
    assert await reconcile(engine, arq_redis, FINDERS) == {}  # queued already: a no-op
    await notify_worker.run_check()

    bodies = [r.body for r in fake_providers.twilio.requests if r.to == CUSTOMER]
    assert bodies.count("Corner Books driver: At your door") == 1
    assert await relay_status(engine, message_id) == ("sent", None)
    assert await reconcile(engine, arq_redis, FINDERS) == {}  # sent: nothing owed
