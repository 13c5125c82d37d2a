"""Merchant API: authentication, tenant isolation on every endpoint, registration, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import STORE_API
from gateway.platform.http.errors import error_middleware
from tests.support import Store, connect_carrier, load_fixture, make_store, post_fixture

V1 = sorted({(op.method, op.path) for op in STORE_API if op.path.startswith("/v1")})
SHIPMENT = {
    "tracking_number": " 1z8r2f610373102544 ",
    "carrier": "ups",
    "order_id": "A-1001",
    "recipient": {
        "name": "Jane Doe",
        "phone": "+15555550123",
        "email": "jane.doe@example.com",
        "timezone": "America/New_York",
    },
    "destination": {"address": "1 Main St, Charlotte, NC", "lat": 35.2, "lon": -80.8},
    "promised_by": "2026-03-16T22:00:00Z",
}


async def _register(client: TestClient[Any, Any], store: Store, **changes: Any) -> Any:
    return await client.post("/v1/shipments", json={**SHIPMENT, **changes}, headers=store.headers)


@pytest.mark.parametrize(("method", "path"), V1)
@pytest.mark.parametrize("authorization", [None, "Bearer lm_0000000000000000_nope", "Basic eDp5"])
async def test_every_v1_endpoint_requires_a_valid_key(
    client: TestClient[Any, Any], method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    concrete = re.sub(r"\{[^}]+\}", "x", path)
    response = await client.request(method, concrete, json={}, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_other_tenants_objects_answer_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    owner, other = await make_store(engine, "Owner"), await make_store(engine, "Other")
    created = await (await _register(client, owner)).json()
    fixture = load_fixture("ups", "delivered_signature_and_photo")
    await post_fixture(client, await connect_carrier(client, owner, fixture), fixture)

    by_id = await client.get(f"/v1/shipments/{created['id']}", headers=other.headers)
    by_number = await client.get(
        "/v1/shipments",
        params={"tracking_number": SHIPMENT["tracking_number"]},
        headers=other.headers,
    )
    assert (by_id.status, by_number.status) == (404, 404)
    assert created["id"] not in await by_id.text()
    # The other store can register the same number: tenants never share shipments.
    mine = await (await _register(client, other)).json()
    assert mine["id"] != created["id"] and mine["events"] == []


async def test_registration_attaches_events_that_arrived_first(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "delivered_signature_and_photo")
    await post_fixture(client, await connect_carrier(client, store, fixture), fixture)

    response = await _register(client, store)

    assert response.status == 201
    shipment = await response.json()
    assert shipment["tracking_number"] == "1Z8R2F610373102544"
    assert shipment["status"] == "delivered"
    assert shipment["events"] == fixture["expect"]["events"]
    assert shipment["recipient"]["phone"] != SHIPMENT["recipient"]["phone"]  # masked
    assert shipment["recipient"]["phone"].endswith("0123")


async def test_events_after_registration_join_it(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    created = await (await _register(client, store)).json()
    fixture = load_fixture("ups", "delivered_signature_and_photo")
    await post_fixture(client, await connect_carrier(client, store, fixture), fixture)

    shipment = await (
        await client.get(f"/v1/shipments/{created['id']}", headers=store.headers)
    ).json()
    assert shipment["status"] == "delivered"
    assert shipment["order_id"] == "A-1001"
    assert len(shipment["events"]) == 1


async def test_registering_twice_is_409(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    store = await make_store(engine)
    assert (await _register(client, store)).status == 201
    second = await _register(client, store)
    assert second.status == 409
    assert (await second.json())["error"]["code"] == "shipment_exists"


@pytest.mark.parametrize(
    ("changes", "status", "fragment"),
    [
        ({"recipient": {"name": "J", "phone": "555-0123"}}, 422, "recipient.phone"),
        ({"recipient": {"name": "J", "timezone": "Mars/Olympus"}}, 422, "recipient.timezone"),
        ({"carrier": "pony"}, 422, "carrier"),
        ({"promised_by": "2026-03-16T22:00:00"}, 422, "promised_by"),
        ({"destination": {"address": "x", "lat": 123, "lon": 0}}, 422, "destination.lat"),
    ],
)
async def test_bad_registration_is_rejected_without_echo(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    changes: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    store = await make_store(engine)
    response = await _register(client, store, **changes)
    body = await response.json()
    assert response.status == status
    assert fragment in body["error"]["message"]
    assert "555-0123" not in body["error"]["message"]
    lookup = await client.get(
        "/v1/shipments", params={"tracking_number": "1Z8R2F610373102544"}, headers=store.headers
    )
    assert lookup.status == 404  # nothing was stored


async def test_invalid_json_is_400(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    store = await make_store(engine)
    response = await client.post("/v1/shipments", data=b"{nope", headers=store.headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_carrier_connection_rejects_wrong_scheme_and_never_returns_secret(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    wrong = await client.post(
        "/v1/carrier-connections",
        json={
            "carrier": "fedex",
            "auth": {"scheme": "static_header", "header": "x", "secret": "s3cret-value-0123456"},
        },
        headers=store.headers,
    )
    assert wrong.status == 422 and "s3cret-value" not in await wrong.text()
    fixture = load_fixture("fedex", "out_for_delivery")
    ok = await client.post(
        "/v1/carrier-connections",
        json={"carrier": "fedex", "auth": fixture["auth"]},
        headers=store.headers,
    )
    body = await ok.json()
    assert ok.status == 201
    assert set(body) == {"id", "carrier", "webhook_url"}
    assert body["webhook_url"] == f"http://gateway.test/hooks/fedex/{body['id']}"


async def test_unknown_path_and_method_are_json_errors(client: TestClient[Any, Any]) -> None:
    missing = await client.get("/nope")
    wrong_method = await client.delete("/healthz")
    assert (missing.status, (await missing.json())["error"]["code"]) == (404, "not_found")
    assert (wrong_method.status, (await wrong_method.json())["error"]["code"]) == (
        405,
        "method_not_allowed",
    )


async def test_unexpected_exception_is_a_500_that_leaks_nothing(aiohttp_client: Any) -> None:
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("password=hunter2")

    app = web.Application(middlewares=[error_middleware(lambda _request: None)])
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    response = await client.get("/boom")
    text = await response.text()
    assert response.status == 500
    assert "hunter2" not in text and response.headers["X-Request-Id"] in text


async def test_openapi_describes_every_v1_endpoint(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/openapi.json")).json()
    described = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    mounted = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1")
        and route.method != "HEAD"
    }
    assert described == mounted == set(V1)
    body_schema = document["paths"]["/v1/shipments"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert body_schema["schema"]["$ref"].split("/")[-1] in document["components"]["schemas"]


async def test_probes(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"database": "ok", "redis": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status == 200 and "lastmile_webhook_requests_total" in await metrics.text()
