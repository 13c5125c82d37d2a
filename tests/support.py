"""Helpers shared by the HTTP tests: a store with an API key, carrier connections, fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from gateway.platform.vault import new_key
from gateway.tenants.store import create_tenant

FIXTURES = Path(__file__).parent / "fixtures" / "carriers"
# LASTMILE_SECRET_KEY of every test (conftest installs it), one per session.
SECRET_KEY = new_key()


@dataclass
class Store:
    tenant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_store(engine: AsyncEngine, name: str = "Acme") -> Store:
    async with engine.begin() as conn:
        tenant_id, api_key = await create_tenant(conn, name)
    return Store(tenant_id, api_key)


def load_fixture(carrier: str, case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / carrier / f"{case}.json").read_text())
    return data


async def connect_carrier(
    client: TestClient[Any, Any], store: Store, fixture: dict[str, Any]
) -> str:
    """Creates the fixture's carrier connection; returns the webhook path."""
    response = await client.post(
        "/v1/carrier-connections",
        json={"carrier": fixture["carrier"], "auth": fixture["auth"]},
        headers=store.headers,
    )
    assert response.status == 201, await response.text()
    url: str = (await response.json())["webhook_url"]
    return url.removeprefix("http://gateway.test")


async def post_fixture(client: TestClient[Any, Any], path: str, fixture: dict[str, Any]) -> Any:
    request = fixture["request"]
    return await client.post(path, data=request["body"].encode(), headers=request["headers"])


def pin_clock_to_fixture(client: TestClient[Any, Any], fixture: dict[str, Any]) -> None:
    """USPS signs a send time; the static fixtures pass with the clock at that time."""
    if fixture["carrier"] != "usps":
        return
    try:
        stamp = json.loads(fixture["request"]["body"])["timestamp"]
    except (ValueError, KeyError):
        return
    client.app[CLOCK].freeze(datetime.fromisoformat(stamp.replace("Z", "+00:00")))


async def count_rows(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        return int((await conn.execute(query)).scalar_one())
