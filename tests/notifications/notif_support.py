"""Helpers and fixtures for the notification tests (imported by the test modules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.registry import build_channels, close_channels
from gateway.app import create_app
from gateway.notifications.tables import notifications
from gateway.platform.settings import Settings
from gateway.platform.tables import outbox
from gateway.shipments.jobs import shipment_changed
from gateway.shipments.tables import shipment_changes
from tests.conftest import BurstWorker
from tests.support import Store, connect_carrier, load_fixture, make_store, post_fixture

FAST_BACKOFF_S = (0.02, 0.02, 0.02, 0.02, 0.02)
PHONE = "+15555550123"
EMAIL = "jane.doe@example.com"
PUSH_TOKEN = "device-token-" + "a" * 40
TRACKING_NUMBER = "1Z8R2F610373102544"  # the UPS fixtures' parcel


def shipment_body(**recipient: Any) -> dict[str, Any]:
    return {
        "tracking_number": TRACKING_NUMBER,
        "carrier": "ups",
        "order_id": "A-1001",
        "recipient": {
            "name": "Jane Doe",
            "phone": PHONE,
            "email": EMAIL,
            "push_tokens": [PUSH_TOKEN],
            "locale": "en-US",
            "timezone": "America/New_York",
            **recipient,
        },
    }


@pytest.fixture
async def notify_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    """The gateway, configured like production with the fake providers' credentials."""
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


@pytest.fixture
async def notify_worker(provider_settings: Settings, burst_worker: BurstWorker) -> Worker:
    """A real arq burst worker whose channels are the real SDKs pointed at the fakes."""
    return burst_worker(provider_settings, notify_backoff_s=FAST_BACKOFF_S)


async def quiet_store(
    client: TestClient[Any, Any], engine: AsyncEngine, name: str = "Corner Books", **settings: Any
) -> Store:
    """A store whose notifications go out at once: no quiet hours, no collapse window."""
    store = await make_store(engine, name)
    body = {"quiet_hours": None, "collapse_window_s": 0, **settings}
    response = await client.patch("/v1/notification-settings", json=body, headers=store.headers)
    assert response.status == 200, await response.text()
    return store


async def add_rule(
    client: TestClient[Any, Any], store: Store, events: list[str], channels: list[str], **extra: Any
) -> dict[str, Any]:
    body = {"name": "test rule", "events": events, "channels": channels, **extra}
    response = await client.post("/v1/notification-rules", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    rule: dict[str, Any] = await response.json()
    return rule


async def register(client: TestClient[Any, Any], store: Store, **recipient: Any) -> str:
    response = await client.post(
        "/v1/shipments", json=shipment_body(**recipient), headers=store.headers
    )
    assert response.status == 201, await response.text()
    shipment_id: str = (await response.json())["id"]
    return shipment_id


async def carrier_event(
    client: TestClient[Any, Any], store: Store, case: str, path: str | None = None
) -> str:
    """POST a UPS fixture through the real webhook endpoint; returns the webhook path."""
    fixture = load_fixture("ups", case)
    path = path or await connect_carrier(client, store, fixture)
    response = await post_fixture(client, path, fixture)
    assert response.status == 202, await response.text()
    return path


async def wait_relayed(engine: AsyncEngine) -> None:
    for _ in range(300):
        async with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(outbox)
            pending = await conn.execute(query.where(outbox.c.enqueued_at.is_(None)))
            if pending.scalar_one() == 0:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox rows were never relayed")


async def drain(engine: AsyncEngine, worker: Worker) -> None:
    """Relay what the gateway committed, then run every job (and the jobs they queue)."""
    await wait_relayed(engine)
    await worker.run_check()


async def notification_rows(engine: AsyncEngine, shipment_id: str) -> list[Any]:
    async with engine.connect() as conn:
        query = (
            sa.select(notifications)
            .where(notifications.c.shipment_id == shipment_id)
            .order_by(notifications.c.cause_at, notifications.c.created_at, notifications.c.id)
        )
        return list((await conn.execute(query)).all())


async def listed(client: TestClient[Any, Any], store: Store, shipment_id: str) -> list[Any]:
    response = await client.get(
        "/v1/notifications", params={"shipment_id": shipment_id}, headers=store.headers
    )
    assert response.status == 200, await response.text()
    items: list[Any] = (await response.json())["notifications"]
    return items


@pytest.fixture
async def job_ctx(
    provider_settings: Settings, engine: AsyncEngine, arq_redis: ArqRedis
) -> AsyncIterator[dict[str, Any]]:
    """What the worker hands a job, for calling jobs directly (one try at a time)."""
    channels = build_channels(provider_settings)
    yield {
        "db": engine,
        "redis": arq_redis,
        "settings": provider_settings,
        "channels": channels,
        "job_try": 1,
        "notify_backoff_s": FAST_BACKOFF_S,
    }
    await close_channels(channels)


async def plan_pending_changes(ctx: dict[str, Any]) -> None:
    """Run `shipment_changed` for every change not yet handled, oldest first."""
    engine: AsyncEngine = ctx["db"]
    async with engine.connect() as conn:
        query = (
            sa.select(shipment_changes.c.id)
            .where(shipment_changes.c.processed_at.is_(None))
            .order_by(shipment_changes.c.created_at)
        )
        change_ids = list((await conn.execute(query)).scalars())
    for change_id in change_ids:
        await shipment_changed(ctx, change_id)  # type: ignore[arg-type]
