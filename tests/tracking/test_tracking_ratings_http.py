"""Ratings from the tracking page (JSON and form) and `GET /v1/ratings`, on both databases."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from gateway.store_webhooks.tables import webhook_messages
from tests.tracking.tracking_support import (
    AFTER_DELIVERY,
    BEFORE_DELIVERY,
    ON_THE_WAY,
    track_shipment,
)


async def _rate(client: TestClient[Any, Any], path: str, body: Any, **headers: str) -> Any:
    return await client.post(path + "/rating", json=body, headers=headers)


async def _ratings(client: TestClient[Any, Any], headers: dict[str, str], **query: str) -> Any:
    response = await client.get("/v1/ratings", params=query, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_no_rating_before_delivery(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    response = await _rate(client, tracked.path, {"score": 5})
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_delivered"
    assert (await _ratings(client, tracked.store.headers))["ratings"] == []


async def test_one_rating_editable_for_24_hours(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    created = await _rate(client, tracked.path, {"score": 2, "comment": "  late  "})
    client.app[CLOCK].freeze(AFTER_DELIVERY + timedelta(hours=23, minutes=59))
    edited = await _rate(client, tracked.path, {"score": 4, "comment": "they called, all good"})
    client.app[CLOCK].freeze(AFTER_DELIVERY + timedelta(hours=24))
    locked = await _rate(client, tracked.path, {"score": 1})

    assert (created.status, edited.status, locked.status) == (201, 200, 409)
    assert (await created.json())["comment"] == "late"
    assert (await locked.json())["error"]["code"] == "rating_locked"
    listed = (await _ratings(client, tracked.store.headers))["ratings"]
    assert len(listed) == 1
    assert listed[0]["score"] == 4 and listed[0]["comment"] == "they called, all good"
    assert listed[0]["created_at"] == "2026-03-16T21:30:00Z"
    assert listed[0]["updated_at"] == "2026-03-17T21:29:00Z"


@pytest.mark.parametrize(
    "body",
    [{}, {"score": 0}, {"score": 6}, {"score": "5"}, {"score": 4.5}, {"score": 3, "extra": 1}],
)
async def test_bad_rating_bodies_are_422(
    client: TestClient[Any, Any], engine: AsyncEngine, body: dict[str, Any]
) -> None:
    tracked = await track_shipment(client, engine)
    response = await _rate(client, tracked.path, body)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "validation_error"
    long_comment = await _rate(client, tracked.path, {"score": 3, "comment": "x" * 1001})
    assert long_comment.status == 422
    assert (await _ratings(client, tracked.store.headers))["ratings"] == []


async def test_cross_site_posts_are_refused(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    evil = await _rate(client, tracked.path, {"score": 1}, Origin="https://evil.example")
    fetch_site = await _rate(client, tracked.path, {"score": 1}, **{"Sec-Fetch-Site": "cross-site"})
    own = await _rate(client, tracked.path, {"score": 5}, Origin="http://gateway.test")
    null = await _rate(client, tracked.path, {"score": 4}, Origin="null")  # no-referrer form

    assert (evil.status, fetch_site.status, own.status, null.status) == (403, 403, 201, 200)
    assert [r["score"] for r in (await _ratings(client, tracked.store.headers))["ratings"]] == [4]


async def test_form_post_redirects_back_to_the_page(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    bad = await client.post(tracked.path + "/rating", data={"score": "9"}, allow_redirects=False)
    good = await client.post(
        tracked.path + "/rating", data={"score": "5", "comment": "Great"}, allow_redirects=False
    )

    assert (bad.status, good.status) == (303, 303)
    assert bad.headers["Location"] == tracked.path + "?rating=invalid#rating"
    assert good.headers["Location"] == tracked.path + "?rating=thanks#rating"
    page = await (await client.get(good.headers["Location"])).text()
    assert "Thank you for your rating!" in page and "Great</textarea>" in page


async def test_list_is_tenant_scoped_and_filters_by_since(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    first = await track_shipment(client, engine, store_name="First")
    await _rate(client, first.path, {"score": 5})
    other = await track_shipment(client, engine, store_name="Second")
    client.app[CLOCK].freeze(AFTER_DELIVERY + timedelta(hours=1))
    await _rate(client, other.path, {"score": 3})

    mine = await _ratings(client, first.store.headers)
    theirs = await _ratings(client, other.store.headers, since="2026-03-16T22:00:00+00:00")
    none_yet = await _ratings(client, other.store.headers, since="2026-03-16T22:30:01Z")
    bad = await client.get("/v1/ratings?since=yesterday", headers=first.store.headers)

    assert [(r["shipment_id"], r["score"]) for r in mine["ratings"]] == [(first.shipment_id, 5)]
    assert [(r["shipment_id"], r["score"]) for r in theirs["ratings"]] == [(other.shipment_id, 3)]
    assert none_yet == {"ratings": [], "has_more": False}
    assert bad.status == 400


async def test_a_new_rating_notifies_the_store(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine)
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["rating.created"]},
        headers=tracked.store.headers,
    )
    assert endpoint.status == 201, await endpoint.text()

    await _rate(client, tracked.path, {"score": 5, "comment": "Perfect"})
    await _rate(client, tracked.path, {"score": 4})  # an edit is not a new rating

    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(webhook_messages.c.body))).all()
    assert len(rows) == 1
    message = json.loads(rows[0].body)
    assert message["type"] == "rating.created"
    assert message["data"]["shipment_id"] == tracked.shipment_id
    assert (message["data"]["score"], message["data"]["source"]) == (5, "page")
