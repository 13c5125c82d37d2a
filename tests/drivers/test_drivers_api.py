"""Drivers API and driver tokens: create, read, edit, delete; every bad token is the same 401."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.drivers import store_keys, tokens
from gateway.drivers.auth import DRIVER_KEYS
from gateway.platform.appkeys import CLOCK
from tests.drivers.city import T0, ping_at
from tests.drivers.drivers_support import DriverHandle, add_driver, ping_json
from tests.support import SECRET_KEY, make_store

NOW = T0 + timedelta(minutes=5)


async def _ping_status(client: TestClient[Any, Any], token: str) -> int:
    response = await client.post(
        "/v1/driver/locations",
        json={"pings": [ping_json(ping_at(0, 0, 60))]},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status == 401:
        assert await response.json() == {
            "error": {"code": "unauthorized", "message": "missing or invalid driver token"}
        }
    return response.status


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_create_read_list_patch_delete(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    created = await client.post(
        "/v1/drivers", json={"name": "Dana", "phone": "+15555550188"}, headers=store.headers
    )
    assert created.status == 201
    body = await created.json()
    assert body["name"] == "Dana" and body["phone"] == "+1••••••0188" and body["position"] is None
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "HS256" and header["kid"] == store_keys.FIRST_KID
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert (claims["sub"], claims["tid"], claims["ver"]) == (body["id"], store.tenant_id, 1)

    got = await client.get(f"/v1/drivers/{body['id']}", headers=store.headers)
    assert (await got.json())["name"] == "Dana"
    patched = await client.patch(
        f"/v1/drivers/{body['id']}", json={"name": "Dana R."}, headers=store.headers
    )
    assert (await patched.json())["name"] == "Dana R."
    listed = await (await client.get("/v1/drivers", headers=store.headers)).json()
    assert [d["name"] for d in listed["drivers"]] == ["Dana R."]

    assert (await client.delete(f"/v1/drivers/{body['id']}", headers=store.headers)).status == 204
    assert (await client.get(f"/v1/drivers/{body['id']}", headers=store.headers)).status == 404
    assert (await client.delete(f"/v1/drivers/{body['id']}", headers=store.headers)).status == 404


async def test_bad_driver_input_names_the_field(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    response = await client.post(
        "/v1/drivers", json={"name": "Dana", "phone": "555-0188"}, headers=store.headers
    )
    assert response.status == 422
    message = (await response.json())["error"]["message"]
    assert message.startswith("phone:") and "555-0188" not in message


async def test_another_stores_driver_is_404(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    mine, theirs = await make_store(engine, "Mine"), await make_store(engine, "Theirs")
    driver = await add_driver(client, theirs)
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(
            method, f"/v1/drivers/{driver.id}", json=body, headers=mine.headers
        )
        assert response.status == 404, method
    token = await client.post(f"/v1/drivers/{driver.id}/token", headers=mine.headers)
    assert token.status == 404
    assert (await (await client.get("/v1/drivers", headers=mine.headers)).json())["drivers"] == []


async def test_good_token_works_and_a_reset_or_delete_revokes_it_at_once(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    assert await _ping_status(client, driver.token) == 202

    reset = await client.post(f"/v1/drivers/{driver.id}/token", headers=store.headers)
    assert reset.status == 201
    new_token = (await reset.json())["token"]
    assert await _ping_status(client, driver.token) == 401
    assert await _ping_status(client, new_token) == 202

    await client.delete(f"/v1/drivers/{driver.id}", headers=store.headers)
    assert await _ping_status(client, new_token) == 401


async def test_expired_wrong_tenant_tampered_and_unsigned_tokens_are_401(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store, other = await make_store(engine, "Mine"), await make_store(engine, "Other")
    driver = await add_driver(client, store)
    async with engine.begin() as conn:
        kid, secret = await store_keys.signing_key(conn)

    def mint(**overrides: Any) -> str:
        fields = {"driver_id": driver.id, "tenant_id": store.tenant_id, "version": 1, "now": NOW}
        return tokens.mint(secret, kid, **{**fields, **overrides})[0]

    assert await _ping_status(client, mint()) == 202
    assert await _ping_status(client, mint(tenant_id=other.tenant_id)) == 401
    assert await _ping_status(client, mint(version=2)) == 401
    expired = mint(now=NOW - tokens.TOKEN_LIFETIME - timedelta(seconds=1))
    assert await _ping_status(client, expired) == 401
    head, payload, signature = driver.token.split(".")
    claims = jwt.decode(driver.token, options={"verify_signature": False})
    other_driver = await add_driver(client, store, "Other Driver")
    forged = _b64({**claims, "sub": other_driver.id})
    assert await _ping_status(client, f"{head}.{forged}.{signature}") == 401
    unsigned = _b64({"alg": "none", "typ": "JWT", "kid": kid})
    assert await _ping_status(client, f"{unsigned}.{payload}.") == 401
    wrong_key = jwt.encode(
        claims, "a guessed key of 32 bytes or more!", algorithm="HS256", headers={"kid": kid}
    )
    assert await _ping_status(client, wrong_key) == 401
    for garbage in ("", "x", "a.b.c", "Bearer", driver.token + "x"):
        assert await _ping_status(client, garbage) == 401
    no_scheme = await client.post("/v1/driver/locations", json={"pings": []})
    assert no_scheme.status == 401


async def test_a_rotated_key_keeps_old_tokens_until_it_is_retired(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    client.app[DRIVER_KEYS].ttl_s = 0  # other processes notice within the TTL; here at once
    store = await make_store(engine)
    old = await add_driver(client, store, "Old Key")
    async with engine.begin() as conn:
        new_kid = await store_keys.rotate(conn)
    new = await add_driver(client, store, "New Key")
    assert jwt.get_unverified_header(new.token)["kid"] == new_kid
    assert await _ping_status(client, old.token) == 202
    assert await _ping_status(client, new.token) == 202

    async with engine.begin() as conn:
        newest = await store_keys.rotate(conn, retire_old=True)
    assert await _ping_status(client, old.token) == 401
    assert await _ping_status(client, new.token) == 401
    fresh = await client.post(f"/v1/drivers/{new.id}/token", headers=store.headers)
    token = (await fresh.json())["token"]
    assert jwt.get_unverified_header(token)["kid"] == newest
    assert await _ping_status(client, token) == 202


async def test_a_token_only_reaches_its_own_stops(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    client.app[CLOCK].freeze(NOW)
    store = await make_store(engine)
    driver: DriverHandle = await add_driver(client, store)
    response = await client.post(
        "/v1/driver/stops/shp_unknown/events",
        json={"type": "arrived", "occurred_at": NOW.isoformat()},
        headers=driver.headers,
    )
    assert response.status == 404


def test_the_rotate_key_command_adds_a_signing_key(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LASTMILE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "LASTMILE_SECRET_KEY": SECRET_KEY,
    }
    lastmile = str(Path(sys.executable).parent / "lastmile")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [lastmile, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    assert run("migrate").returncode == 0
    first = run("drivers", "rotate-key")
    second = run("drivers", "rotate-key", "--retire-old")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    kids = [json.loads(r.stdout)["kid"] for r in (first, second)]
    assert kids[0] != kids[1] and all(k.startswith("d") for k in kids)
    assert json.loads(second.stdout)["retired_old"] is True
