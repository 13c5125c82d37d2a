"""Carrier fixtures through HTTP against the running app, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.shipments.tables import events, raw_payloads
from tests.support import (
    FIXTURES,
    connect_carrier,
    count_rows,
    load_fixture,
    make_store,
    pin_clock_to_fixture,
    post_fixture,
)

CASES = sorted((p.parent.name, p.stem) for p in FIXTURES.glob("*/*.json"))
EXPECTED_STATUS = {"accepted": 202, "rejected_auth": 401, "rejected_bad_request": 400}


async def _stored_events(
    client: TestClient[Any, Any], headers: dict[str, str], numbers: list[str]
) -> list[Any]:
    found = []
    for number in numbers:
        response = await client.get(
            "/v1/shipments", params={"tracking_number": number}, headers=headers
        )
        assert response.status == 200
        found.extend((await response.json())["events"])
    return found


@pytest.mark.parametrize(("carrier", "case"), CASES, ids=[f"{c}/{n}" for c, n in CASES])
async def test_fixture_through_http(
    client: TestClient[Any, Any], engine: AsyncEngine, carrier: str, case: str
) -> None:
    fixture = load_fixture(carrier, case)
    store = await make_store(engine)
    path = await connect_carrier(client, store, fixture)
    pin_clock_to_fixture(client, fixture)

    response = await post_fixture(client, path, fixture)

    expected = fixture["expect"]
    assert response.status == EXPECTED_STATUS[expected["http"]], await response.text()
    if expected["http"] != "accepted":
        body = await response.json()
        assert fixture["auth"]["secret"] not in await response.text()
        assert set(body) == {"error"}
        assert await count_rows(engine, events) == 0
        assert await count_rows(engine, raw_payloads) == 0
        return
    assert await response.json() == {"accepted": len(expected["events"])}
    numbers = list(dict.fromkeys(e["tracking_number"] for e in expected["events"]))
    stored = await _stored_events(client, store.headers, numbers)
    # The API returns each shipment's timeline in time order; the fixture lists payload order.
    key = lambda e: (e["tracking_number"], e["occurred_at"])  # noqa: E731
    assert sorted(stored, key=key) == sorted(expected["events"], key=key)
    assert await count_rows(engine, raw_payloads) == 1
