"""A driver's trip through the real HTTP API: pings in batches with the gateway's clock following
the trace, a store webhook receiver, the worker drained, and what came out read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import standardwebhooks.webhooks as stdwh
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.drivers.rules.geo import haversine_m
from gateway.drivers.rules.pings import Ping
from gateway.notifications.tables import notifications
from gateway.platform.appkeys import CLOCK
from gateway.platform.outbox import count_pending
from tests.drivers.drivers_support import DriverHandle, send_pings
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import Store

DRIVER_EVENTS = [
    "driver.arriving",
    "driver.off_route",
    "driver.back_on_route",
    "shipment.late",
    "shipment.eta_changed",
]
SENT_AFTER_S = 2.0  # the app posts a batch two seconds after its newest ping


@pytest.fixture
async def receiver(aiohttp_server: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    receiver.server = await aiohttp_server(receiver.app())
    yield receiver


async def subscribe(
    client: TestClient[Any, Any], store: Store, receiver: Receiver, events: list[str] | None = None
) -> str:
    """A store webhook endpoint for the driver events; returns its secret."""
    body = {"url": receiver.url(), "event_types": events or DRIVER_EVENTS}
    response = await client.post("/v1/webhook-endpoints", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    secret: str = (await response.json())["secret"]
    return secret


async def quiet(client: TestClient[Any, Any], store: Store) -> None:
    """Notifications go out at once: no quiet hours, no collapse window."""
    body = {"quiet_hours": None, "collapse_window_s": 0}
    response = await client.patch("/v1/notification-settings", json=body, headers=store.headers)
    assert response.status == 200, await response.text()


async def drain(engine: AsyncEngine, worker: Worker) -> None:
    """Everything committed reaches arq (hand-over or relay), then every job runs."""
    for _ in range(300):
        async with engine.connect() as conn:
            if await count_pending(conn) == 0:
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("outbox rows were never relayed")
    await worker.run_check()


@dataclass
class Trip:
    client: TestClient[Any, Any]
    driver: DriverHandle
    accepted: list[Ping] = field(default_factory=list)  # in the order sent
    refused: list[tuple[Ping, str]] = field(default_factory=list)
    batch_times: list[datetime] = field(default_factory=list)

    async def send(self, pings: Sequence[Ping], at: datetime | None = None) -> dict[str, Any]:
        """One batch, posted when the app would (after its newest ping) unless `at` says."""
        now = at or max(p.recorded_at for p in pings) + timedelta(seconds=SENT_AFTER_S)
        self.client.app[CLOCK].freeze(now)
        self.batch_times.append(now)
        verdicts = await send_pings(self.client, self.driver, pings)
        for ping, verdict in zip(pings, verdicts["pings"], strict=True):
            if verdict["status"] == "accepted":
                self.accepted.append(ping)
            else:
                self.refused.append((ping, verdict["reason"]))
        return verdicts

    async def drive(self, pings: Sequence[Ping], size: int) -> None:
        for start in range(0, len(pings), size):
            await self.send(pings[start : start + size])


def first_pair_inside(pings: Sequence[Ping], lat: float, lon: float, radius_m: float) -> datetime:
    """When two consecutive (trusted, accepted) pings are first inside the radius."""
    ordered = sorted(pings, key=lambda p: p.recorded_at)
    inside = [haversine_m(p.lat, p.lon, lat, lon) <= radius_m for p in ordered]
    index = next(i for i in range(1, len(ordered)) if inside[i - 1] and inside[i])
    return ordered[index].recorded_at


def received(receiver: Receiver, secret: str, event_type: str) -> list[dict[str, Any]]:
    """The verified `data` of each webhook of that type, in arrival order."""
    found = []
    for got in receiver.at("/hook"):
        stdwh.Webhook(secret).verify(got.body, got.headers)
        if got.json["type"] == event_type:
            found.append(got.json["data"])
    return found


async def notified(engine: AsyncEngine, shipment_id: str) -> list[tuple[str, str]]:
    """(event, status) of every customer notification of the shipment, oldest first."""
    async with engine.connect() as conn:
        query = (
            sa.select(notifications.c.event, notifications.c.status)
            .where(notifications.c.shipment_id == shipment_id)
            .order_by(notifications.c.cause_at, notifications.c.created_at)
        )
        return [(row.event, row.status) for row in (await conn.execute(query)).all()]
