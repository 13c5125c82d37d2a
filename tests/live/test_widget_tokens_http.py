"""POST /v1/widget-tokens, DELETE /v1/widget-tokens/{token}: one shipment, one origin, briefly."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.live.tables import widget_tokens
from gateway.live.widget_rules import BadOrigin, normalize_origin
from gateway.platform.appkeys import CLOCK
from tests.live.widget_support import SHOP, widget_token
from tests.support import count_rows, make_store
from tests.tracking.tracking_support import BEFORE_DELIVERY, ON_THE_WAY, track_shipment


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_token_is_short_lived_opaque_and_for_one_origin(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    issued = await widget_token(
        client, tracked.store, tracked.shipment_id, "HTTPS://Shop.Example:443/"
    )
    token = issued["token"]
    assert issued["origin"] == SHOP  # as browsers send Origin
    assert _at(issued["expires_at"]) == BEFORE_DELIVERY + timedelta(hours=1)
    assert tracked.shipment_id not in token
    assert tracked.shipment_id.split("_")[-1] not in token
    assert token.startswith("wt_") and len(token) == 35  # 32 base64url characters: 192 bits
    again = await widget_token(client, tracked.store, tracked.shipment_id)
    assert again["token"] != token
    short = await widget_token(client, tracked.store, tracked.shipment_id, ttl_s=300)
    assert _at(short["expires_at"]) == BEFORE_DELIVERY + timedelta(minutes=5)


async def test_only_a_hash_of_the_token_is_stored(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    token = (await widget_token(client, tracked.store, tracked.shipment_id))["token"]
    async with engine.connect() as conn:
        rows = (await conn.execute(widget_tokens.select())).all()
    assert len(rows) == 1
    assert token not in repr(rows)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"origin": SHOP}, "shipment_id"),
        ({"shipment_id": "X"}, "origin"),
        ({"shipment_id": "X", "origin": "http://shop.example"}, "origin"),
        ({"shipment_id": "X", "origin": "https://shop.example/orders/1"}, "origin"),
        ({"shipment_id": "X", "origin": "shop.example"}, "origin"),
        ({"shipment_id": "X", "origin": "https://user@shop.example"}, "origin"),
        ({"shipment_id": "X", "origin": "https://shop.example:99999"}, "origin"),
        ({"shipment_id": "X", "origin": "https://bücher.example"}, "origin"),
        ({"shipment_id": "X", "origin": "javascript:alert(1)"}, "origin"),
        ({"shipment_id": "X", "origin": SHOP, "ttl_s": 5}, "ttl_s"),
        ({"shipment_id": "X", "origin": SHOP, "ttl_s": 86401}, "ttl_s"),
        ({"shipment_id": "X", "origin": SHOP, "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine, body: dict[str, Any], field: str
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    body = {**body, "shipment_id": tracked.shipment_id} if "shipment_id" in body else body
    response = await client.post("/v1/widget-tokens", json=body, headers=tracked.store.headers)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(field)
    assert await count_rows(engine, widget_tokens) == 0


async def test_another_stores_shipment_is_a_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    other = await make_store(engine, "Other Shop")
    for shipment_id in (tracked.shipment_id, "shp_does_not_exist"):
        response = await client.post(
            "/v1/widget-tokens",
            json={"shipment_id": shipment_id, "origin": SHOP},
            headers=other.headers,
        )
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    assert await count_rows(engine, widget_tokens) == 0


async def test_an_api_key_is_required(client: TestClient[Any, Any]) -> None:
    response = await client.post("/v1/widget-tokens", json={"shipment_id": "X", "origin": SHOP})
    assert response.status == 401


async def test_delete_ends_one_token_of_this_store(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    token = (await widget_token(client, tracked.store, tracked.shipment_id))["token"]
    other = await make_store(engine, "Other Shop")
    response = await client.delete(f"/v1/widget-tokens/{token}", headers=other.headers)
    assert response.status == 404
    response = await client.delete(f"/v1/widget-tokens/{token}", headers=tracked.store.headers)
    assert response.status == 204
    response = await client.delete(f"/v1/widget-tokens/{token}", headers=tracked.store.headers)
    assert response.status == 404


async def test_expired_tokens_are_dropped_when_new_ones_are_issued(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    tracked = await track_shipment(client, engine, ON_THE_WAY, now=BEFORE_DELIVERY)
    await widget_token(client, tracked.store, tracked.shipment_id, ttl_s=60)
    client.app[CLOCK].freeze(BEFORE_DELIVERY + timedelta(minutes=2))
    await widget_token(client, tracked.store, tracked.shipment_id)
    assert await count_rows(engine, widget_tokens) == 1


async def test_the_openapi_document_describes_the_endpoints(
    client: TestClient[Any, Any],
) -> None:
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert set(paths["/v1/widget-tokens"]) == {"post"}
    assert set(paths["/v1/widget-tokens/{token}"]) == {"delete"}


@pytest.mark.parametrize(
    ("raw", "dev", "expected"),
    [
        ("https://shop.example", False, "https://shop.example"),
        ("https://Shop.Example:8443", False, "https://shop.example:8443"),
        ("https://[::1]:8443", False, "https://[::1]:8443"),
        ("http://localhost:8081", True, "http://localhost:8081"),
        ("http://127.0.0.1:8081/", True, "http://127.0.0.1:8081"),
        ("http://127.0.0.1:8081", False, None),
        ("http://shop.example", True, None),
        ("https://shop.example?x=1", False, None),
        ("https://shop.example#x", False, None),
        ("https://-bad-.example", False, None),
        ("ftp://shop.example", False, None),
    ],
)
def test_origins_are_normalized_as_browsers_send_them(
    raw: str, dev: bool, expected: str | None
) -> None:
    if expected is None:
        with pytest.raises(BadOrigin):
            normalize_origin(raw, dev=dev)
    else:
        assert normalize_origin(raw, dev=dev) == expected
