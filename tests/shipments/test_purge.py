"""Raw payloads are kept for the retention period, then purged by the worker's cron job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.settings import Settings
from gateway.shipments.jobs import purge_expired
from gateway.shipments.tables import raw_payloads
from tests.support import make_store


async def test_purge_drops_only_payloads_past_retention(
    engine: AsyncEngine, settings: Settings, redis: Redis
) -> None:
    store = await make_store(engine)
    now = datetime.now(UTC)
    ages = {
        "fresh": timedelta(days=1),
        "edge": timedelta(days=29, hours=23),
        "old": timedelta(days=31),
    }
    async with engine.begin() as conn:
        for name, age in ages.items():
            await conn.execute(
                raw_payloads.insert().values(
                    id=name,
                    tenant_id=store.tenant_id,
                    connection_id="cc",
                    carrier="ups",
                    headers={},
                    body=b"{}",
                    event_count=1,
                    received_at=now - age,
                )
            )
    ctx: Any = {"db": engine, "settings": settings, "redis": redis}

    purged = await purge_expired(ctx)

    async with engine.connect() as conn:
        left = set((await conn.execute(sa.select(raw_payloads.c.id))).scalars())
    assert purged["raw_payloads"] == 1
    assert left == {"fresh", "edge"}
