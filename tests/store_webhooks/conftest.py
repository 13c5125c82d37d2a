"""Store webhook fixtures: a local receiver, a burst worker with a fast retry schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings
from gateway.store_webhooks.sender import create_session
from tests.conftest import BurstWorker
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import Store, make_store

FAST_BACKOFF_S = (0.05,) * 7  # the real schedule's shape, in milliseconds


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    receiver = Receiver()
    receiver.server = await aiohttp_server(receiver.app())
    return receiver


@pytest.fixture
async def store(engine: AsyncEngine) -> Store:
    return await make_store(engine, "Corner Books")


@pytest.fixture
async def fast_worker(settings: Settings, burst_worker: BurstWorker) -> Worker:
    """A burst worker whose retries come after 50 ms instead of minutes."""
    return burst_worker(settings, webhook_backoff_s=FAST_BACKOFF_S)


@pytest.fixture
async def job_ctx(
    settings: Settings, engine: AsyncEngine, arq_redis: ArqRedis
) -> AsyncIterator[dict[str, Any]]:
    """What a worker hands the delivery job, for calling it directly."""
    session = create_session(allow_private=settings.dev)
    yield {
        "db": engine,
        "redis": arq_redis,
        "settings": settings,
        "webhook_http": session,
        "job_try": 1,
    }
    await session.close()


@pytest.fixture
def relay(engine: AsyncEngine, arq_redis: ArqRedis) -> OutboxRelay:
    return OutboxRelay(engine, arq_redis)


async def add_endpoint(
    client: TestClient[Any, Any], store: Store, url: str, **fields: Any
) -> dict[str, Any]:
    body = {"url": url, "event_types": ["shipment.status_changed"], **fields}
    response = await client.post("/v1/webhook-endpoints", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created
