"""`GET /v1/shipments`: a store's shipments in cursor pages with filters; the lookup unchanged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import Store, connect_carrier, load_fixture, make_store, post_fixture

DELIVERED_NUMBER = "1Z8R2F610373102544"  # the UPS fixture's parcel


async def _register(
    client: TestClient[Any, Any], store: Store, number: str, carrier: str = "ups"
) -> dict[str, Any]:
    body = {"tracking_number": number, "carrier": carrier, "recipient": {"name": "Jane Doe"}}
    response = await client.post("/v1/shipments", json=body, headers=store.headers)
    assert response.status == 201, await response.text()
    shipment: dict[str, Any] = await response.json()
    return shipment


async def _list(client: TestClient[Any, Any], store: Store, **params: Any) -> Any:
    response = await client.get("/v1/shipments", params=params, headers=store.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_pages_walk_every_shipment_once_newest_first(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store, other = await make_store(engine, "Mine"), await make_store(engine, "Other")
    created = [await _register(client, store, f"1ZPAGE{i:04d}") for i in range(7)]
    await _register(client, other, "1ZNOTMINE")

    seen: list[str] = []
    page = await _list(client, store, limit=3)
    pages = 1
    while page["next_cursor"] is not None:
        seen += [s["id"] for s in page["shipments"]]
        page = await _list(client, store, limit=3, cursor=page["next_cursor"])
        pages += 1
    seen += [s["id"] for s in page["shipments"]]

    assert pages == 3
    assert seen == [s["id"] for s in reversed(created)]  # newest first, each once, only mine
    assert "events" not in page["shipments"][0]  # a summary: the timeline is one GET away


async def test_filters_combine(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    store = await make_store(engine)
    early = await _register(client, store, "1ZEARLY0001", "ups")
    await asyncio.sleep(0.01)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    fedex = await _register(client, store, "794600000001", "fedex")
    delivered = await _register(client, store, DELIVERED_NUMBER, "ups")
    fixture = load_fixture("ups", "delivered_signature_and_photo")
    assert (
        await post_fixture(client, await connect_carrier(client, store, fixture), fixture)
    ).status == 202

    def ids(page: dict[str, Any]) -> list[str]:
        return [s["id"] for s in page["shipments"]]

    assert ids(await _list(client, store, status="delivered")) == [delivered["id"]]
    assert ids(await _list(client, store, status="delivered,unknown")) == [
        delivered["id"],
        fedex["id"],
        early["id"],
    ]
    assert ids(await _list(client, store, carrier="fedex")) == [fedex["id"]]
    own = await _register(client, store, "LM-OWN-0001", "driver")
    assert ids(await _list(client, store, carrier="driver")) == [own["id"]]
    since = middle.isoformat()
    assert ids(await _list(client, store, created_since=since, carrier="ups")) == [delivered["id"]]
    assert ids(await _list(client, store, created_until=since)) == [early["id"]]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"status": "lost_in_space"}, "status"),
        ({"carrier": "pigeon"}, "carrier"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"created_since": "yesterday"}, "created_since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: TestClient[Any, Any], engine: AsyncEngine, params: dict[str, str], named: str
) -> None:
    store = await make_store(engine)
    response = await client.get("/v1/shipments", params=params, headers=store.headers)

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_parameter"
    assert error["message"].startswith(f"{named}: ")
    assert next(iter(params.values())) not in error["message"]


async def test_the_tracking_number_lookup_still_answers_one_shipment(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    created = await _register(client, store, DELIVERED_NUMBER)

    found = await client.get(
        "/v1/shipments",
        params={"tracking_number": DELIVERED_NUMBER.lower(), "carrier": "ups"},
        headers=store.headers,
    )
    missing = await client.get(
        "/v1/shipments", params={"tracking_number": "1ZNOPE"}, headers=store.headers
    )

    assert found.status == 200
    body = await found.json()
    assert (body["id"], body["events"]) == (created["id"], [])
    assert missing.status == 404
