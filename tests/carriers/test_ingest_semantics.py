"""Dedup, ordering, POD enrichment, limits and the outbox, through HTTP on both databases."""

from __future__ import annotations

import base64
import hmac
import io
import json
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.tables import outbox
from gateway.shipments.tables import events, raw_payloads, shipment_changes
from tests.support import (
    Store,
    connect_carrier,
    count_rows,
    load_fixture,
    make_store,
    pin_clock_to_fixture,
    post_fixture,
)


async def _shipment(client: TestClient[Any, Any], store: Store, number: str) -> dict[str, Any]:
    response = await client.get(
        "/v1/shipments", params={"tracking_number": number}, headers=store.headers
    )
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


def _fedex_signed(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.digest(secret.encode(), raw, "sha256")).decode()
    return raw, {"fdx-signature": signature, "Content-Type": "application/json"}


async def test_same_request_twice_stores_one_set_of_events(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "multi_package_push")
    path = await connect_carrier(client, store, fixture)

    first = await post_fixture(client, path, fixture)
    second = await post_fixture(client, path, fixture)

    assert first.status == second.status == 202
    assert await count_rows(engine, events) == len(fixture["expect"]["events"])
    assert await count_rows(engine, shipment_changes) == 4  # one per package, none for the repeat
    assert await count_rows(engine, raw_payloads) == 2  # every accepted request is kept for replay


async def test_duplicate_fixture_collapses_with_original(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    original = load_fixture("fedex", "out_for_delivery")
    path = await connect_carrier(client, store, original)
    await post_fixture(client, path, original)
    await post_fixture(client, path, load_fixture("fedex", "duplicate_of_out_for_delivery"))

    shipment = await _shipment(client, store, "771203948265")
    assert [e["status"] for e in shipment["events"]] == ["out_for_delivery"]


async def test_late_older_scan_joins_timeline_without_undoing_delivery(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    delivered = load_fixture("ups", "delivered_signature_and_photo")
    path = await connect_carrier(client, store, delivered)
    await post_fixture(client, path, delivered)
    await post_fixture(client, path, load_fixture("ups", "late_scan_after_delivery"))

    shipment = await _shipment(client, store, "1Z8R2F610373102544")
    assert shipment["status"] == "delivered"
    assert [e["status"] for e in shipment["events"]] == ["in_transit", "delivered"]


async def test_reverse_order_reaches_same_final_status(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    """Each USPS event posted alone, oldest-last, ends where in-order delivery ends."""
    store = await make_store(engine)
    fixture = load_fixture("usps", "multiple_events_newest_first")
    path = await connect_carrier(client, store, fixture)
    envelope = json.loads(fixture["request"]["body"])
    payload = json.loads(envelope["payload"])
    secret = fixture["auth"]["secret"].encode()
    pin_clock_to_fixture(client, fixture)
    for scan in payload["trackingEvents"]:  # newest first: the reverse of time order
        single = dict(payload, trackingEvents=[scan])
        inner = json.dumps(single, separators=(",", ":"))
        body = json.dumps(dict(envelope, payload=inner), separators=(",", ":")).encode()
        mac = base64.b64encode(
            hmac.digest(secret, (envelope["timestamp"] + inner).encode(), "sha256")
        )
        response = await client.post(path, data=body, headers={"X-HMAC": mac.decode()})
        assert response.status == 202, await response.text()

    shipment = await _shipment(client, store, payload["trackingNumber"].strip().upper())
    assert shipment["status"] == "out_for_delivery"
    assert [e["occurred_at"] for e in shipment["events"]] == sorted(
        e["occurred_at"] for e in fixture["expect"]["events"]
    )


async def test_second_delivered_with_pod_enriches_the_first(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "delivered_with_recipient")
    secret = fixture["auth"]["secret"]
    path = await connect_carrier(client, store, fixture)
    body = json.loads(fixture["request"]["body"])
    track = body["output"]["completeTrackResults"][0]["trackResults"][0]
    signer = track["deliveryDetails"]["receivedByName"]
    track["deliveryDetails"]["receivedByName"] = ""
    raw, headers = _fedex_signed(body, secret)
    assert (await client.post(path, data=raw, headers=headers)).status == 202
    track["deliveryDetails"]["receivedByName"] = signer
    raw, headers = _fedex_signed(body, secret)
    assert (await client.post(path, data=raw, headers=headers)).status == 202

    number = fixture["expect"]["events"][0]["tracking_number"]
    shipment = await _shipment(client, store, number)
    delivered = [e for e in shipment["events"] if e["status"] == "delivered"]
    assert len(delivered) == 1
    assert delivered[0]["signed_by"] == signer


async def test_over_one_mebibyte_is_413_and_stores_nothing(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    body = fixture["request"]["body"][:-1] + ',"pad":"' + "x" * (1024 * 1024) + '"}'

    response = await client.post(
        path, data=io.BytesIO(body.encode()), headers=fixture["request"]["headers"]
    )

    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    assert await count_rows(engine, raw_payloads) == 0


async def test_unknown_connection_and_wrong_carrier_answer_like_bad_signature(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    bad_signature = await post_fixture(client, path, load_fixture("ups", "wrong_credential"))
    unknown = await post_fixture(client, "/hooks/ups/cc_doesnotexist", fixture)
    wrong_carrier = await post_fixture(client, path.replace("/ups/", "/fedex/"), fixture)
    no_such_carrier = await post_fixture(client, path.replace("/ups/", "/acme/"), fixture)

    bodies = {await r.text() for r in (bad_signature, unknown, wrong_carrier, no_such_carrier)}
    assert {r.status for r in (bad_signature, unknown, wrong_carrier, no_such_carrier)} == {401}
    assert len(bodies) == 1
    assert await count_rows(engine, events) == 0


async def test_rotated_secret_both_accepted(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "out_for_delivery")
    auth = {
        "scheme": "hmac_sha256_base64",
        "header": "fdx-signature",
        "secrets": ["new-fedex-secret-2", fixture["auth"]["secret"]],
    }
    response = await client.post(
        "/v1/carrier-connections", json={"carrier": "fedex", "auth": auth}, headers=store.headers
    )
    path = (await response.json())["webhook_url"].removeprefix("http://gateway.test")
    old = await post_fixture(client, path, fixture)
    raw, headers = _fedex_signed(json.loads(fixture["request"]["body"]), "new-fedex-secret-2")
    new = await client.post(path, data=raw, headers=headers)
    assert (old.status, new.status) == (202, 202)


async def test_unknown_code_is_kept_and_counted(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("fedex", "unknown_event_code")
    path = await connect_carrier(client, store, fixture)
    await post_fixture(client, path, fixture)

    code = fixture["expect"]["events"][0]["carrier_status_code"]
    metrics = await (await client.get("/metrics")).text()
    assert f'lastmile_unknown_status_codes_total{{carrier="fedex",code="{code}"}}' in metrics
    shipment = await _shipment(client, store, fixture["expect"]["events"][0]["tracking_number"])
    assert shipment["events"][0]["carrier_status_code"] == code
    assert shipment["status"] == "unknown"


async def test_accepted_change_is_committed_to_outbox(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, store, fixture)
    await post_fixture(client, path, fixture)
    async with engine.connect() as conn:
        jobs = (await conn.execute(sa.select(outbox.c.job_id, outbox.c.function))).all()
    assert [j.function for j in jobs] == ["shipment_changed"]
    assert jobs[0].job_id.startswith("shipment_changed:shp_")
