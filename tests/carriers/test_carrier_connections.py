"""Carrier connections after creation: rotate without changing the URL, list, delete, isolation."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.support import connect_carrier, load_fixture, make_store, post_fixture

NEW = "fedex-secret-after-rotation"


def _signed_with(fixture: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = fixture["request"]["body"].encode()
    signature = base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()
    return body, {"fdx-signature": signature, "Content-Type": "application/json"}


async def test_rotation_keeps_the_url_and_accepts_both_secrets_until_finished(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "out_for_delivery")
    old = fixture["auth"]["secret"]
    path = await connect_carrier(client, store, fixture)
    connection_id = path.rsplit("/", 1)[1]
    assert (await post_fixture(client, path, fixture)).status == 202  # cache now holds the old auth

    rotating = {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secrets": [NEW, old]}
    patched = await client.patch(
        f"/v1/carrier-connections/{connection_id}", json={"auth": rotating}, headers=store.headers
    )
    assert patched.status == 200, await patched.text()
    view = await patched.json()
    assert view["active_secrets"] == 2
    assert view["webhook_url"].endswith(path)
    assert NEW not in json.dumps(view) and old not in json.dumps(view)
    for secret in (NEW, old):
        body, headers = _signed_with(fixture, secret)
        assert (await client.post(path, data=body, headers=headers)).status == 202

    done = {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": NEW}
    await client.patch(
        f"/v1/carrier-connections/{connection_id}", json={"auth": done}, headers=store.headers
    )
    body, headers = _signed_with(fixture, old)
    assert (await client.post(path, data=body, headers=headers)).status == 401
    body, headers = _signed_with(fixture, NEW)
    assert (await client.post(path, data=body, headers=headers)).status == 202


async def test_list_get_delete_and_isolation(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    owner, other = await make_store(engine, "Owner"), await make_store(engine, "Other")
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, owner, fixture)
    connection_id = path.rsplit("/", 1)[1]
    url = f"/v1/carrier-connections/{connection_id}"

    listed = await (await client.get("/v1/carrier-connections", headers=owner.headers)).json()
    assert [c["id"] for c in listed["carrier_connections"]] == [connection_id]
    assert fixture["auth"]["secret"] not in json.dumps(listed)
    theirs = await (await client.get("/v1/carrier-connections", headers=other.headers)).json()
    assert theirs == {"carrier_connections": []}
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, url, json={"auth": fixture["auth"]}, headers=other.headers
        )
        assert response.status == 404, method

    assert (await client.delete(url, headers=owner.headers)).status == 204
    assert (await client.get(url, headers=owner.headers)).status == 404
    assert (await post_fixture(client, path, fixture)).status == 401  # deleted: fails closed


async def test_patch_with_wrong_scheme_changes_nothing(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    url = f"/v1/carrier-connections/{path.rsplit('/', 1)[1]}"
    bad = {"scheme": "hmac_sha256_base64", "header": "credential", "secret": "whatever-secret-0123"}

    response = await client.patch(url, json={"auth": bad}, headers=store.headers)

    assert response.status == 422
    assert "whatever-secret" not in await response.text()
    assert (await post_fixture(client, path, fixture)).status == 202


async def test_a_secret_shorter_than_16_bytes_is_refused_naming_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    placeholder = {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": "..."}
    rotating = {**placeholder, "secret": None, "secrets": ["fedex-secret-0123456789", "short"]}
    del rotating["secret"]

    created = await client.post(
        "/v1/carrier-connections",
        json={"carrier": "fedex", "auth": placeholder},
        headers=store.headers,
    )
    connection_id = await connect_carrier(client, store, load_fixture("fedex", "out_for_delivery"))
    patched = await client.patch(
        f"/v1/carrier-connections/{connection_id.rsplit('/', 1)[1]}",
        json={"auth": rotating},
        headers=store.headers,
    )

    assert created.status == 422
    assert (await created.json())["error"]["message"] == "auth: secret is shorter than 16 bytes"
    assert patched.status == 422
    assert "secrets[1] is shorter than 16 bytes" in (await patched.json())["error"]["message"]
    assert "short" not in (await patched.json())["error"]["message"].replace("shorter", "")


async def _refused_within(
    client: TestClient[Any, Any], path: str, body: bytes, headers: dict[str, str], within_s: float
) -> float:
    """Seconds until `client` answers 401 to this request (fails after `within_s`)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (await client.post(path, data=body, headers=headers)).status != 401:
        assert loop.time() - started < within_s, f"still accepted after {within_s}s"
        await asyncio.sleep(0.05)
    return loop.time() - started


async def test_a_change_reaches_every_other_gateway_process_within_a_second(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> None:
    """Two gateways (each with its own connection cache) behind one database and Redis."""
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    store = await make_store(engine)
    fixture = load_fixture("fedex", "out_for_delivery")
    path = await connect_carrier(first, store, fixture)
    connection_id = path.rsplit("/", 1)[1]
    old_body, old_headers = _signed_with(fixture, fixture["auth"]["secret"])
    assert (await second.post(path, data=old_body, headers=old_headers)).status == 202  # cached

    done = {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": NEW}
    patched = await first.patch(
        f"/v1/carrier-connections/{connection_id}", json={"auth": done}, headers=store.headers
    )
    assert patched.status == 200
    await _refused_within(second, path, old_body, old_headers, within_s=1.0)
    body, headers = _signed_with(fixture, NEW)
    assert (await second.post(path, data=body, headers=headers)).status == 202

    deleted = await first.delete(f"/v1/carrier-connections/{connection_id}", headers=store.headers)
    assert deleted.status == 204
    await _refused_within(second, path, body, headers, within_s=1.0)
