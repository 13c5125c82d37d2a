"""`/v1/webhook-endpoints`: create, read, change, delete, rotate; tenant-scoped; clear 422s."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.store_webhooks.conftest import add_endpoint
from tests.support import Store, make_store

URL = "https://hooks.example.com/lastmile"


async def test_create_returns_id_and_secret_once(
    client: TestClient[Any, Any], store: Store
) -> None:
    created = await add_endpoint(client, store, URL, description="orders")
    assert created["id"].startswith("whep_")
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True and created["include_pii"] is False

    fetched = await (
        await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=store.headers)
    ).json()
    assert "secret" not in fetched
    assert fetched["url"] == URL and fetched["description"] == "orders"
    listed = await (await client.get("/v1/webhook-endpoints", headers=store.headers)).json()
    assert [e["id"] for e in listed["endpoints"]] == [created["id"]]


async def test_patch_changes_only_given_fields(client: TestClient[Any, Any], store: Store) -> None:
    created = await add_endpoint(client, store, URL)
    path = f"/v1/webhook-endpoints/{created['id']}"
    response = await client.patch(
        path,
        json={"event_types": ["rating.created", "customer.message"], "enabled": False},
        headers=store.headers,
    )
    assert response.status == 200
    body = await response.json()
    assert body["event_types"] == ["rating.created", "customer.message"]
    assert body["enabled"] is False and body["disabled_reason"] == "manual"
    assert body["url"] == URL

    again = await (await client.patch(path, json={"enabled": True}, headers=store.headers)).json()
    assert again["enabled"] is True and again["disabled_reason"] is None


async def test_delete_removes_it(client: TestClient[Any, Any], store: Store) -> None:
    created = await add_endpoint(client, store, URL)
    path = f"/v1/webhook-endpoints/{created['id']}"
    assert (await client.delete(path, headers=store.headers)).status == 204
    assert (await client.get(path, headers=store.headers)).status == 404


async def test_rotate_secret_gives_a_new_one_and_an_overlap(
    client: TestClient[Any, Any], store: Store
) -> None:
    created = await add_endpoint(client, store, URL)
    path = f"/v1/webhook-endpoints/{created['id']}"
    rotated = await (await client.post(path + "/rotate-secret", headers=store.headers)).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    fetched = await (await client.get(path, headers=store.headers)).json()
    assert fetched["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"description": "mine now"}),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
        ("GET", "/attempts", None),
        ("POST", "/replay", {"since": "2026-01-01T00:00:00Z"}),
    ],
)
async def test_another_stores_endpoint_is_404_on_every_route(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    store: Store,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    created = await add_endpoint(client, store, URL)
    other = await make_store(engine, "Other Shop")
    path = f"/v1/webhook-endpoints/{created['id']}{suffix}"

    response = await client.request(method, path, json=body, headers=other.headers)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    listed = await (await client.get("/v1/webhook-endpoints", headers=other.headers)).json()
    assert listed["endpoints"] == []
    mine = await (
        await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=store.headers)
    ).json()
    assert mine["description"] == "" and mine["url"] == URL  # unchanged


async def test_without_api_key_is_401(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/v1/webhook-endpoints")).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "event_types": []}, "event_types"),
        ({"url": URL, "event_types": ["shipment.teleported"]}, "event_types"),
        ({"url": URL}, "event_types"),
        ({"event_types": ["rating.created"]}, "url"),
        ({"url": URL, "event_types": ["rating.created"], "alert_email": "nope"}, "alert_email"),
        ({"url": URL, "event_types": ["rating.created"], "colour": "red"}, "colour"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    client: TestClient[Any, Any], store: Store, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/webhook-endpoints", json=body, headers=store.headers)
    assert response.status == 422
    assert field in (await response.json())["error"]["message"]
    listed = await (await client.get("/v1/webhook-endpoints", headers=store.headers)).json()
    assert listed["endpoints"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # plain http
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/x",
        "https://[::1]/x",
        "https://100.64.0.1/x",  # CGNAT
        "https://localhost/x",
        "https://user:pass@hooks.example.com/x",
        "ftp://hooks.example.com/x",
    ],
)
async def test_production_refuses_unsafe_urls(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, url: str
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"dev": False})))
    store = await make_store(engine)
    body = {"url": url, "event_types": ["rating.created"]}
    response = await client.post("/v1/webhook-endpoints", json=body, headers=store.headers)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "invalid_url"


async def test_production_refuses_unsafe_url_on_patch_too(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"dev": False})))
    store = await make_store(engine)
    created = await add_endpoint(client, store, URL)
    path = f"/v1/webhook-endpoints/{created['id']}"
    response = await client.patch(path, json={"url": "https://192.168.1.1/"}, headers=store.headers)
    assert response.status == 422
    assert (await (await client.get(path, headers=store.headers)).json())["url"] == URL


async def test_dev_mode_allows_http_and_loopback(
    client: TestClient[Any, Any], store: Store
) -> None:
    created = await add_endpoint(client, store, "http://127.0.0.1:9/hook")
    assert created["url"] == "http://127.0.0.1:9/hook"


async def test_openapi_describes_the_endpoints(client: TestClient[Any, Any]) -> None:
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    assert set(paths["/v1/webhook-endpoints"]) == {"get", "post"}
    assert set(paths["/v1/webhook-endpoints/{id}"]) == {"get", "patch", "delete"}
    for suffix in ("/rotate-secret", "/attempts", "/replay"):
        assert f"/v1/webhook-endpoints/{{id}}{suffix}" in paths
