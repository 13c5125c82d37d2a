"""The ingest writer: committed jobs reach the relay, and PostgreSQL survives dead connections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain.events import CanonicalEvent, Status
from gateway.platform.outbox import PendingJob
from gateway.platform.tables import outbox
from gateway.shipments.store_ingest import IngestRequest
from gateway.shipments.writer import IngestWriter
from tests.support import make_store


def _request(tenant_id: str, number: str) -> IngestRequest:
    event = CanonicalEvent(
        tracking_number=number,
        carrier="ups",
        status=Status.OUT_FOR_DELIVERY,
        carrier_status_code="OT",
        occurred_at=datetime(2026, 3, 14, 13, 0, tzinfo=UTC),
        location=None,
        description="Out For Delivery Today",
    )
    return IngestRequest(
        tenant_id, "cc_test", "ups", {"Content-Type": "application/json"}, b"{}", [event]
    )


async def _enqueued(engine: AsyncEngine) -> dict[str, bool]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.job_id, outbox.c.enqueued_at))).all()
    return {row.job_id: row.enqueued_at is not None for row in rows}


async def test_committed_jobs_go_to_the_relay_and_are_recorded_relayed(engine: AsyncEngine) -> None:
    store = await make_store(engine)
    handed: list[PendingJob] = []

    def relay(jobs: Sequence[PendingJob]) -> None:
        handed.extend(jobs)

    writer = IngestWriter(engine)
    writer.relay_to(relay)
    writer.start()
    try:
        first = await writer.submit(_request(store.tenant_id, "1ZWRITER0001"))
        assert [job.args for job in handed] == [[first.changes[0]]]
        assert await _enqueued(engine) == {handed[0].job_id: False}  # arq has not got it yet
        writer.mark_relayed([handed[0].job_id])
        await writer.submit(_request(store.tenant_id, "1ZWRITER0002"))  # records the mark
        assert (await _enqueued(engine))[handed[0].job_id] is True
        assert len(handed) == 2
    finally:
        await writer.stop()


async def test_postgres_writer_retries_on_a_fresh_connection_after_a_restart(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the writer's own pool without pre-ping is PostgreSQL's")
    store = await make_store(engine)
    writer = IngestWriter(engine)
    writer.start()
    try:
        await writer.submit(_request(store.tenant_id, "1ZWRITER0003"))
        async with engine.connect() as conn:  # what a database restart does to the pool
            await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        result = await writer.submit(_request(store.tenant_id, "1ZWRITER0004"))
        assert result.stored == 1
    finally:
        await writer.stop()
