"""Fields that used to answer 500: each is now a 400/422 naming the field, and nothing changes.

Also: a page whose stored data is already extreme (rows from before the checks) still renders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.shipments.tables import shipments
from gateway.tracking.pages import PAGE_HEADERS
from tests.support import count_rows, make_store
from tests.tracking.tracking_support import track_shipment

BASE = {"tracking_number": "1Z999AA10123456784", "carrier": "ups"}


def _shipment(**changes: Any) -> dict[str, Any]:
    recipient = {"name": "Alex Rivera", "timezone": "Pacific/Kiritimati"}
    recipient |= changes.pop("recipient", {})
    return {**BASE, "recipient": recipient, **changes}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_shipment(recipient={"timezone": "A" * 5000}), "recipient.timezone"),
        (_shipment(recipient={"timezone": "../../etc/passwd"}), "recipient.timezone"),
        (_shipment(promised_by="9999-12-31T23:00:00+14:00"), "promised_by"),
        (_shipment(promised_by="9999-12-31T23:59:59-23:59"), "promised_by"),
        (_shipment(promised_by="0001-01-01T00:00:00+14:00"), "promised_by"),
        (_shipment(recipient={"name": "Al\u0000ex"}), "recipient.name"),
        (_shipment(order_id="A-\ud800"), "order_id"),
        (_shipment(recipient={"name": "Alex", "push_tokens": ["ok", "x\udfff"]}), "push_tokens"),
        (_shipment(recipient={"name": "N" * 201}), "recipient.name"),
    ],
    ids=[
        "zone-5000-chars",
        "zone-path",
        "promised-9999-kiritimati",
        "promised-past-9999-utc",
        "promised-year-1",
        "nul-in-name",
        "lone-surrogate-order-id",
        "lone-surrogate-in-list",
        "name-too-long",
    ],
)
async def test_bad_shipment_fields_are_422_naming_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine, body: dict[str, Any], field: str
) -> None:
    store = await make_store(engine)

    response = await client.post("/v1/shipments", json=body, headers=store.headers)

    assert response.status == 422, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "validation_error" and field in error["message"]
    assert await count_rows(engine, shipments) == 0


@pytest.mark.parametrize(
    "since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-03-01T00:00:00"]
)
async def test_ratings_since_out_of_range_is_400_naming_since(
    client: TestClient[Any, Any], engine: AsyncEngine, since: str
) -> None:
    store = await make_store(engine)

    response = await client.get("/v1/ratings", params={"since": since}, headers=store.headers)

    assert response.status == 400, await response.text()
    assert "since" in (await response.json())["error"]["message"]


async def test_replay_since_out_of_range_is_422(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://shop.example/hooks", "event_types": ["shipment.late"]},
        headers=store.headers,
    )
    endpoint_id = (await created.json())["id"]

    response = await client.post(
        f"/v1/webhook-endpoints/{endpoint_id}/replay",
        json={"since": "9999-12-31T23:59:59-23:59"},
        headers=store.headers,
    )

    assert response.status == 422, await response.text()
    assert "since" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/shipments/shp_%00", 404),
        ("/v1/shipments?tracking_number=%00&carrier=ups", 400),
    ],
)
async def test_unstorable_text_in_the_url_is_a_4xx(
    client: TestClient[Any, Any], engine: AsyncEngine, path: str, status: int
) -> None:
    store = await make_store(engine)

    response = await client.get(path, headers=store.headers)

    assert response.status == status, await response.text()
    assert "error" in await response.json()


async def test_a_tracking_link_with_a_nul_gets_the_one_404_page(
    client: TestClient[Any, Any],
) -> None:
    page = await client.get("/t/k1.%00abc")

    assert page.status == 404 and page.content_type == "text/html"


async def test_the_tracking_page_renders_extreme_stored_dates(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    """Rows stored before these checks existed: a far-future promise, a zone at UTC+14."""
    tracked = await track_shipment(client, engine, scans=("out_for_delivery",))
    async with engine.begin() as conn:
        await conn.execute(
            shipments.update()
            .where(shipments.c.id == tracked.shipment_id)
            .values(
                promised_by=datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
                status_at=datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
                recipient={"name": "A", "timezone": "Pacific/Kiritimati"},
            )
        )

    page = await client.get(tracked.path)
    status = await client.get(tracked.path + "/status")

    assert page.status == 200, await page.text()
    assert page.headers["Content-Security-Policy"] == PAGE_HEADERS["Content-Security-Policy"]
    assert status.status == 200, await status.text()


async def test_the_tracking_page_survives_a_stored_absurd_zone(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, scans=("out_for_delivery",))
    async with engine.begin() as conn:
        await conn.execute(
            shipments.update()
            .where(shipments.c.id == tracked.shipment_id)
            .values(recipient={"name": "A", "timezone": "Z" * 5000})
        )

    page = await client.get(tracked.path)

    assert page.status == 200, await page.text()
