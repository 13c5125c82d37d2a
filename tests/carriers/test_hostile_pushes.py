"""Validly signed carrier pushes with fields no database stores as they are, for all four carriers.

The policy (webhooks/fields.py): free text with a NUL or a lone surrogate escape (`\\ud800`) is
stored with U+FFFD in their place, the rest of the push intact; an identifier too long for its
column or a time outside the years the gateway handles is a 400 with nothing stored. Never a
500, never half a push.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.shipments.tables import events, raw_payloads
from tests.support import connect_carrier, count_rows, load_fixture, make_store
from webhooks.signing import sign

Doc = dict[str, Any]


@dataclass(frozen=True)
class Carrier:
    """Where each carrier's payload keeps a free text, the tracking number and a scan time."""

    name: str
    seed: str
    text: Callable[[Doc, str], None]
    number: Callable[[Doc, str], None]
    when: Callable[[Doc, str], None]


def _ups_when(doc: Doc, iso: str) -> None:
    moment = datetime.fromisoformat(iso)
    doc["gmtActivityDate"], doc["gmtActivityTime"] = f"{moment:%Y%m%d}", f"{moment:%H%M%S}"


CARRIERS = [
    Carrier(
        "ups",
        "out_for_delivery",
        lambda d, v: d["activityStatus"].__setitem__("description", v),
        lambda d, v: d.__setitem__("trackingNumber", v),
        _ups_when,
    ),
    Carrier(
        "fedex",
        "out_for_delivery",
        lambda d, v: _fedex_scan(d).__setitem__("eventDescription", v),
        lambda d, v: d["output"]["completeTrackResults"][0].__setitem__("trackingNumber", v),
        lambda d, v: _fedex_scan(d).__setitem__("date", v),
    ),
    Carrier(
        "usps",
        "delivered_signed_by",
        lambda d, v: d["trackingEvents"][0].__setitem__("eventType", v),
        lambda d, v: d.__setitem__("trackingNumber", v),
        lambda d, v: d["trackingEvents"][0].__setitem__("GMTTimestamp", v),
    ),
    Carrier(
        "dhl",
        "delivered_signed",
        lambda d, v: d["shipments"][0]["events"][0].__setitem__("description", v),
        lambda d, v: d["shipments"][0].__setitem__("id", v),
        lambda d, v: d["shipments"][0]["events"][-1].__setitem__("timestamp", v),
    ),
]


def _fedex_scan(doc: Doc) -> Doc:
    scan: Doc = doc["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][0]
    return scan


def signed_request(carrier: Carrier, edit: Callable[[Doc], None]) -> tuple[bytes, dict[str, str]]:
    """The seed fixture's push with `edit` applied to its document, signed as the carrier signs.

    `json.dumps` writes a NUL as `\\u0000` and a lone surrogate as `\\ud800`, as a carrier's
    JSON encoder would; USPS's document sits inside the envelope as a string.
    """
    fixture = load_fixture(carrier.name, carrier.seed)
    headers = dict(fixture["request"]["headers"])
    body = json.loads(fixture["request"]["body"])
    secret = fixture["auth"]["secret"].encode()
    if carrier.name == "usps":
        document = json.loads(body["payload"])
        edit(document)
        body["payload"] = json.dumps(document)
        body["timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers["X-HMAC"] = sign(secret, (body["timestamp"] + body["payload"]).encode())
        return json.dumps(body).encode(), headers
    edit(body)
    raw = json.dumps(body).encode()
    if carrier.name == "fedex":
        headers["fdx-signature"] = sign(secret, raw)
    return raw, headers


async def _stored_texts(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(events.c.description))).scalars()
        return list(rows)


@pytest.mark.parametrize("bad", ["\ud800", "\x00", "\udc00\ud800"], ids=["high", "nul", "pair"])
@pytest.mark.parametrize("carrier", CARRIERS, ids=[c.name for c in CARRIERS])
async def test_unstorable_text_is_cleaned_and_the_push_is_stored(
    client: TestClient[Any, Any], engine: AsyncEngine, carrier: Carrier, bad: str
) -> None:
    store = await make_store(engine)
    path = await connect_carrier(client, store, load_fixture(carrier.name, carrier.seed))
    body, headers = signed_request(carrier, lambda doc: carrier.text(doc, f"Left{bad}door"))

    response = await client.post(path, data=body, headers=headers)

    assert response.status == 202, await response.text()
    accepted = (await response.json())["accepted"]
    cleaned = "Left" + "\ufffd" * len(bad) + "door"
    assert cleaned in await _stored_texts(engine)
    assert await count_rows(engine, events) == accepted  # the whole push, nothing dropped


@pytest.mark.parametrize("carrier", CARRIERS, ids=[c.name for c in CARRIERS])
@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda c, d: c.number(d, "9" * 65), id="tracking-number-65-chars"),
        pytest.param(lambda c, d: c.when(d, "9999-12-31T23:00:00+00:00"), id="year-9999"),
        pytest.param(lambda c, d: c.when(d, "0001-01-01T00:30:00+00:00"), id="year-1"),
    ],
)
async def test_unstorable_identifiers_and_times_are_400_with_nothing_stored(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    carrier: Carrier,
    edit: Callable[[Carrier, Doc], None],
) -> None:
    store = await make_store(engine)
    path = await connect_carrier(client, store, load_fixture(carrier.name, carrier.seed))
    body, headers = signed_request(carrier, lambda doc: edit(carrier, doc))

    response = await client.post(path, data=body, headers=headers)

    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["code"] == "unparsable_payload"
    assert await count_rows(engine, events) == 0
    assert await count_rows(engine, raw_payloads) == 0


async def test_a_header_with_undecodable_bytes_is_stored_cleaned(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    """aiohttp hands a header's non-UTF-8 bytes over as lone surrogates (surrogateescape)."""
    fixture = load_fixture("ups", "out_for_delivery")
    path = await connect_carrier(client, await make_store(engine), fixture)
    body = fixture["request"]["body"].encode()
    head = f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in fixture["request"]["headers"].items())
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head.encode() + b"X-Note: caf\xff\xe9\r\nConnection: close\r\n\r\n" + body)

    answer = await reader.read()
    writer.close()
    await writer.wait_closed()

    assert answer.startswith(b"HTTP/1.1 202"), answer
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(raw_payloads.c.headers))).scalar_one()
    assert stored["X-Note"] == "caf\ufffd\ufffd"
