"""Random requests at the real webhook endpoint: never a 500, never an unauthenticated write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.shipments.tables import events, raw_payloads
from tests.support import connect_carrier, load_fixture, make_store

SEEDS = {
    "ups": "out_for_delivery",
    "fedex": "out_for_delivery",
    "usps": "delivered_signed_by",
    "dhl": "delivered_signed",
}
header_names = st.sampled_from(
    ["credential", "fdx-signature", "X-HMAC", "DHL-API-Key", "Content-Type", "X-Other"]
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("carrier", sorted(SEEDS))
async def test_random_requests_never_500_and_never_store_unauthenticated(
    client: TestClient[Any, Any], engine: AsyncEngine, carrier: str
) -> None:
    store = await make_store(engine)
    fixture = load_fixture(carrier, SEEDS[carrier])
    path = await connect_carrier(client, store, fixture)
    statuses: set[int] = set()

    loop = asyncio.get_running_loop()

    async def post(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = await client.post(path, data=body, headers=headers)
        return response.status, await response.text()

    # Hypothesis drives sync functions: it runs in a thread and sends each request to this loop.
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        body=st.binary(max_size=2048),
        headers=st.dictionaries(header_names, header_values, max_size=4),
    )
    def post_random(body: bytes, headers: dict[str, str]) -> None:
        status, text = asyncio.run_coroutine_threadsafe(post(body, headers), loop).result(
            timeout=30
        )
        statuses.add(status)
        assert status in {400, 401}, text

    await asyncio.to_thread(post_random)

    async with engine.connect() as conn:
        stored = (
            await conn.execute(sa.select(sa.func.count()).select_from(raw_payloads))
        ).scalar_one()
        stored_events = (
            await conn.execute(sa.select(sa.func.count()).select_from(events))
        ).scalar_one()
    # Random bytes never carry the connection's secret or a valid HMAC: nothing may be stored.
    assert (stored, stored_events) == (0, 0)
    assert 401 in statuses
