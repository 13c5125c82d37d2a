"""/metrics stays bounded whatever carriers send, and can move to a private port."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.metrics import MAX_UNKNOWN_CODES
from gateway.platform.settings import Settings
from tests.support import connect_carrier, load_fixture, make_store

METRIC = "lastmile_unknown_status_codes_total{"


def _dhl_push(codes: int) -> bytes:
    """One DHL shipment whose events each carry a status code nobody has seen before."""
    events = [
        {"timestamp": f"2026-03-16T{n // 60 % 24:02d}:{n % 60:02d}:00+01:00",
         "statusCode": f"bogus-{n}", "description": "?"}
        for n in range(codes)
    ]  # fmt: skip
    return json.dumps({"shipments": [{"id": "JD014600005720491836", "events": events}]}).encode()


async def test_unknown_status_codes_beyond_the_cap_count_as_other(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    fixture = load_fixture("dhl", "delivered_signed")
    path = await connect_carrier(client, await make_store(engine), fixture)

    response = await client.post(path, data=_dhl_push(400), headers=fixture["request"]["headers"])
    scrape = await (await client.get("/metrics")).text()

    assert response.status == 202, await response.text()
    label_sets = [line for line in scrape.splitlines() if line.startswith(METRIC)]
    assert len(label_sets) <= MAX_UNKNOWN_CODES + 4  # plus `other` for each carrier at most
    assert any('carrier="dhl",code="other"' in line for line in label_sets)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_with_a_metrics_port_metrics_leave_the_public_port(
    aiohttp_client: Any, settings: Settings
) -> None:
    from gateway.app import create_app

    port = _free_port()
    client = await aiohttp_client(create_app(settings.model_copy(update={"metrics_port": port})))

    public = await client.get("/metrics")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as private,
    ):
        scrape = await private.text()
        private_status = private.status
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        only_metrics = r.status

    assert public.status == 404
    assert private_status == 200 and "lastmile_webhook_requests_total" in scrape
    assert only_metrics == 404
    assert (await client.get("/healthz")).status == 200
