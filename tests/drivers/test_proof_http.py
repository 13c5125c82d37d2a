"""Proof of delivery over HTTP: checked by content, stored clean, shown through signed links,
capped in size, and one delivery with one proof."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session
from aiohttp.test_utils import TestClient
from PIL import Image
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.drivers.tables import proofs
from gateway.platform.appkeys import CLOCK
from gateway.platform.settings import Settings
from tests.drivers.city import T0
from tests.drivers.drivers_support import get_route, stop_event
from tests.drivers.proof_support import (
    doorstep_photo,
    post_proof,
    proof_form,
    routed_delivery,
    signature_png,
)
from tests.support import count_rows, make_store

AT = T0 + timedelta(minutes=20)


def _stored_files(settings: Settings, pattern: str) -> list[Path]:
    """Image files in the local proof storage (not its content-type notes)."""
    root = Path(settings.proof_storage)
    return [p for p in root.rglob(pattern) if p.is_file() and ".content-types" not in p.parts]


async def _shipment(client: TestClient[Any, Any], headers: dict[str, str], sid: str) -> Any:
    response = await client.get(f"/v1/shipments/{sid}", headers=headers)
    assert response.status == 200
    return await response.json()


async def test_a_proof_records_the_delivery_and_serves_clean_images_behind_signed_links(
    client: TestClient[Any, Any], engine: AsyncEngine, settings: Settings
) -> None:
    store = await make_store(engine)
    delivery = await routed_delivery(client, store)
    client.app[CLOCK].freeze(AT)
    form = proof_form(doorstep_photo(), signature_png(), "  Jane Doe ", occurred_at=AT.isoformat())

    response = await post_proof(client, delivery.driver, delivery.shipment_id, form)

    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["recipient_name"] == "Jane Doe" and body["photo"] and body["signature"]
    assert body["delivered_at"] == "2026-03-16T14:20:00Z"
    shipment = await _shipment(client, store.headers, delivery.shipment_id)
    assert shipment["status"] == "delivered"
    [event] = shipment["events"]
    assert (event["carrier"], event["status"], event["signed_by"]) == (
        "driver",
        "delivered",
        "Jane Doe",
    )
    assert event["photo_url"].startswith("http://gateway.test/p/")
    photo = await client.get(event["photo_url"].removeprefix("http://gateway.test"))
    assert photo.status == 200 and photo.content_type == "image/jpeg"
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    data = await photo.read()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and dict(image.getexif()) == {}
    assert b"PhoneMaker" not in data
    [stored] = _stored_files(settings, "*.jpg")
    assert b"PhoneMaker" not in stored.read_bytes()
    route = await get_route(client, store, delivery.route_id)
    assert route["state"] == "done" and route["stops"][0]["state"] == "done"

    tampered = event["photo_url"].removeprefix("http://gateway.test")[:-2] + "AA"
    assert (await client.get(tampered)).status == 404
    client.app[CLOCK].freeze(AT + timedelta(days=2))  # the API's links last a day
    assert (await client.get(event["photo_url"].removeprefix("http://gateway.test"))).status == 404


async def test_revoking_the_tracking_links_revokes_the_proof_links(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    delivery = await routed_delivery(client, store)
    client.app[CLOCK].freeze(AT)
    await post_proof(client, delivery.driver, delivery.shipment_id, proof_form(doorstep_photo()))
    link = (await _shipment(client, store.headers, delivery.shipment_id))["events"][0]["photo_url"]
    path = link.removeprefix("http://gateway.test")
    assert (await client.get(path)).status == 200
    revoked = await client.delete(
        f"/v1/shipments/{delivery.shipment_id}/tracking-link", headers=store.headers
    )
    assert revoked.status == 204
    assert (await client.get(path)).status == 404


async def test_images_are_judged_by_content_not_by_name(
    client: TestClient[Any, Any], engine: AsyncEngine, settings: Settings
) -> None:
    store = await make_store(engine)
    delivery = await routed_delivery(client, store)
    gif = io.BytesIO()
    Image.new("RGB", (20, 20)).save(gif, format="GIF")
    cases = [
        (proof_form(photo=b"<html>not an image</html>"), "photo: must be a JPEG or PNG image"),
        (proof_form(photo=gif.getvalue()), "photo: must be a JPEG or PNG image"),
        (proof_form(signature=doorstep_photo()), "signature: must be a PNG image"),
        (proof_form(photo=doorstep_photo(), recipient_name=None), "recipient_name:"),
        (proof_form(photo=b""), "photo: a photo or a signature is required"),
        (proof_form(photo=doorstep_photo(), occurred_at="yesterday"), "occurred_at:"),
    ]
    for form, message in cases:
        response = await post_proof(client, delivery.driver, delivery.shipment_id, form)
        assert response.status == 422, message
        assert (await response.json())["error"]["message"].startswith(message)
    assert await count_rows(engine, proofs) == 0
    assert _stored_files(settings, "*") == []
    shipment = await _shipment(client, store.headers, delivery.shipment_id)
    assert shipment["events"] == []


async def test_oversized_uploads_are_413_by_header_and_by_streamed_bytes(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> None:
    small = settings.model_copy(update={"proof_max_bytes": 64 * 1024})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(small))
    store = await make_store(engine)
    delivery = await routed_delivery(client, store)
    big = doorstep_photo((3000, 2000))
    assert len(big) > 64 * 1024
    declared = await post_proof(client, delivery.driver, delivery.shipment_id, proof_form(big))
    assert declared.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        boundary = b"--xx\r\n"
        yield boundary + b'Content-Disposition: form-data; name="photo"\r\n\r\n'
        for _ in range(100):
            yield b"\xff" * 1024
        yield b"\r\n--xx--\r\n"

    streamed = await client.post(
        f"/v1/driver/stops/{delivery.shipment_id}/proof",
        data=chunks(),
        headers={**delivery.driver.headers, "Content-Type": "multipart/form-data; boundary=xx"},
    )
    assert streamed.status == 413
    assert await count_rows(engine, proofs) == 0


async def test_one_delivery_one_proof_and_only_the_drivers_own_stops(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    delivery = await routed_delivery(client, store)
    other = await routed_delivery(client, store, tracking_number="P2")
    client.app[CLOCK].freeze(AT)
    delivered = await stop_event(client, delivery.driver, delivery.shipment_id, "delivered", AT)
    assert delivered.status == 201
    form = proof_form(
        signature=signature_png(), occurred_at=(AT + timedelta(minutes=3)).isoformat()
    )
    response = await post_proof(client, delivery.driver, delivery.shipment_id, form)
    assert response.status == 201
    assert (await response.json())["delivered_at"] == "2026-03-16T14:20:00Z"  # the same delivery
    [event] = (await _shipment(client, store.headers, delivery.shipment_id))["events"]
    assert event["signed_by"] == "Jane Doe" and event["photo_url"] is None

    again = await post_proof(
        client, delivery.driver, delivery.shipment_id, proof_form(signature=signature_png())
    )
    assert again.status == 409
    theirs = await post_proof(
        client, delivery.driver, other.shipment_id, proof_form(signature=signature_png())
    )
    assert theirs.status == 404
    assert await count_rows(engine, proofs) == 1


async def test_proofs_in_s3_compatible_storage_are_served_the_same_way(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine, s3_endpoint: str
) -> None:
    session = get_session()
    credentials = {"aws_access_key_id": "test-key-id", "aws_secret_access_key": "test-secret"}
    async with session.create_client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", **credentials
    ) as s3:
        bucket = f"proofs-{secrets.token_hex(4)}"
        await s3.create_bucket(Bucket=bucket)
        in_s3 = settings.model_copy(
            update={
                "proof_storage": f"s3://{bucket}/pod",
                "s3_endpoint_url": s3_endpoint,
                "s3_path_style": True,
                "aws_region": "us-east-1",
                "aws_access_key_id": credentials["aws_access_key_id"],
                "aws_secret_access_key": SecretStr(credentials["aws_secret_access_key"]),
            }
        )
        client: TestClient[Any, Any] = await aiohttp_client(create_app(in_s3))
        store = await make_store(engine)
        delivery = await routed_delivery(client, store)
        client.app[CLOCK].freeze(AT)
        form = proof_form(doorstep_photo(), signature_png())
        assert (await post_proof(client, delivery.driver, delivery.shipment_id, form)).status == 201

        listed = await s3.list_objects_v2(Bucket=bucket)
        keys = sorted(item["Key"] for item in listed.get("Contents", []))
        assert [k.rsplit("-", 1)[1] for k in keys] == ["photo.jpg", "signature.png"]
        assert all(k.startswith(f"pod/{store.tenant_id}/{delivery.shipment_id}/") for k in keys)
        shipment = await _shipment(client, store.headers, delivery.shipment_id)
        path = shipment["events"][0]["photo_url"].removeprefix("http://gateway.test")
        served = await client.get(path)
        assert served.status == 200 and served.content_type == "image/jpeg"
        stored = await s3.get_object(Bucket=bucket, Key=keys[0])
        async with stored["Body"] as body:
            assert await body.read() == await served.read()
