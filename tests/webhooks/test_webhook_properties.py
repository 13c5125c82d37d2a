"""Hypothesis: verify fails closed with BadSignature only, parse fails with BadPayload only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.webhooks.carrier_fixtures import CARRIER_NAMES, CASES, FIXED_NOW, CarrierCase
from webhooks.base import AuthScheme, BadPayload, BadSignature, ConnectionAuth
from webhooks.registry import CARRIERS, auth_from_config
from webhooks.signing import sign

ACCEPTED = [case for case in CASES if case.expect_http == "accepted"]
KNOWN_HEADERS = ["credential", "fdx-signature", "X-HMAC", "DHL-API-Key", "Content-Type"]
KNOWN_KEYS = ["timestamp", "payload", "trackingNumber", "output", "shipments", "events", "id"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
header_names = st.sampled_from(KNOWN_HEADERS) | st.sampled_from(KNOWN_HEADERS).map(str.upper)
header_values = (
    st.text(max_size=60)
    | st.binary(min_size=32, max_size=32).map(lambda raw: sign(raw, b""))  # base64 of 32 bytes
    | st.sampled_from([case.auth["secret"] for case in CASES])
)
envelopes = st.fixed_dictionaries(
    {
        "timestamp": json_values | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
        "payload": json_values,
    }
).map(lambda envelope: json.dumps(envelope).encode())
bodies = st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()) | envelopes
auths = st.builds(
    ConnectionAuth,
    scheme=st.sampled_from(AuthScheme),
    header=header_names | st.text(max_size=12),
    secrets=st.lists(st.binary(max_size=40), max_size=3).map(tuple)
    | st.sampled_from([(case.auth["secret"].encode(),) for case in CASES]),
    max_age_s=st.integers(min_value=0, max_value=10**9),
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=12))]
)
nows = st.datetimes(timezones=zones)
# Secrets a connection accepts: at least MIN_SECRET_BYTES (16) characters, so at least 16 bytes.
static_secrets = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=16, max_size=40
)
hmac_secrets = st.text(st.characters(exclude_categories=["Cs"]), min_size=16, max_size=40)


def verifies(carrier: str, headers: Any, body: bytes, auth: ConnectionAuth, now: datetime) -> bool:
    """True if verify accepts; any exception but BadSignature escapes and fails the test."""
    try:
        CARRIERS[carrier].verify(headers, body, auth, now=now)
    except BadSignature:
        return False
    return True


def signed_headers(carrier: str, secret: str, body: bytes) -> dict[str, str]:
    adapter = CARRIERS[carrier]
    if adapter.AUTH_SCHEME is AuthScheme.STATIC_HEADER:
        return {adapter.HEADER: secret}
    if adapter.AUTH_SCHEME is AuthScheme.HMAC_SHA256_BASE64:
        return {adapter.HEADER: sign(secret.encode(), body)}
    envelope = json.loads(body)
    message = (envelope["timestamp"] + envelope["payload"]).encode()
    return {adapter.HEADER: sign(secret.encode(), message)}


def secrets_for(carrier: str) -> st.SearchStrategy[str]:
    static = CARRIERS[carrier].AUTH_SCHEME is AuthScheme.STATIC_HEADER
    return static_secrets if static else hmac_secrets


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
@given(
    headers=st.dictionaries(header_names | st.text(max_size=12), header_values, max_size=5),
    body=bodies,
    auth=auths,
    now=nows,
)
def test_verify_raises_nothing_but_bad_signature(
    carrier: str, headers: dict[str, str], body: bytes, auth: ConnectionAuth, now: datetime
) -> None:
    verifies(carrier, headers, body, auth, now)


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
@given(data=st.data(), payload=st.text(max_size=200), age_s=st.integers(-(10**6), 10**6))
def test_rotation_and_freshness(
    carrier: str, data: st.DataObject, payload: str, age_s: int
) -> None:
    old, new, other = (data.draw(secrets_for(carrier)) for _ in range(3))
    assume(len({old, new, other}) == 3)
    sent = FIXED_NOW - timedelta(seconds=age_s)
    body = json.dumps({"timestamp": sent.isoformat(), "payload": payload}).encode()
    auth = auth_from_config(
        carrier, {"scheme": CARRIERS[carrier].AUTH_SCHEME.value, "secrets": [old, new]}
    )
    fresh = carrier != "usps" or abs(age_s) <= auth.max_age_s
    assert verifies(carrier, signed_headers(carrier, new, body), body, auth, FIXED_NOW) is fresh
    assert verifies(carrier, signed_headers(carrier, old, body), body, auth, FIXED_NOW) is fresh
    assert not verifies(carrier, signed_headers(carrier, other, body), body, auth, FIXED_NOW)


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
@given(data=st.data())
def test_a_header_altered_by_one_character_fails(case: CarrierCase, data: st.DataObject) -> None:
    auth = auth_from_config(case.carrier, case.auth)
    headers = case.headers
    name = next(key for key in headers if key.lower() == auth.header.lower())
    value = headers[name]
    index = data.draw(st.integers(0, len(value) - 1))
    char = data.draw(st.characters(exclude_categories=["Cs"]).filter(lambda c: c != value[index]))
    headers[name] = value[:index] + char + value[index + 1 :]
    assume(headers[name].strip(" \t") != value)  # padding a value with spaces is not a change
    assert not verifies(case.carrier, headers, case.body, auth, case.now())


SIGNED_SPANS = {  # where in the raw body the signed bytes are; UPS and DHL sign nothing
    "fedex": [re.compile(rb"\A.*\Z", re.DOTALL)],
    "usps": [re.compile(rb'"%s":"((?:[^"\\]|\\.)*)"' % key) for key in (b"timestamp", b"payload")],
}
SIGNED_BODIES = [case for case in ACCEPTED if case.carrier in SIGNED_SPANS]


@pytest.mark.parametrize("case", SIGNED_BODIES, ids=[case.id for case in SIGNED_BODIES])
@given(data=st.data())
def test_a_signed_body_altered_by_one_byte_fails(case: CarrierCase, data: st.DataObject) -> None:
    body = bytearray(case.body)
    spans = [m.span(m.lastindex or 0) for p in SIGNED_SPANS[case.carrier] if (m := p.search(body))]
    start, end = data.draw(st.sampled_from(spans))
    index = data.draw(st.integers(start, end - 1))
    body[index] = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    auth = auth_from_config(case.carrier, case.auth)
    assert not verifies(case.carrier, case.headers, bytes(body), auth, case.now())


def parses(carrier: str, body: bytes) -> list[Any]:
    """The events, checked for the canonical invariants; BadPayload gives []."""
    try:
        events = CARRIERS[carrier].parse(body)
    except BadPayload:
        return []
    for event in events:
        assert event.tracking_number == event.tracking_number.strip().upper() != ""
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.occurred_at.microsecond == 0
        json.dumps(event.to_json())
    return list(events)


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
@given(body=bodies)
def test_parse_of_random_bytes_raises_only_bad_payload(carrier: str, body: bytes) -> None:
    parses(carrier, body)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    paths = [prefix]
    for key, child in children:
        paths.extend(_paths(child, (*prefix, key)))
    return paths


def _mutate(document: Any, data: st.DataObject) -> Any:
    """`document` with one node replaced by a random JSON value, or deleted."""
    path = data.draw(st.sampled_from(_paths(document)))
    if not path:
        return data.draw(json_values)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    return document


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
@given(data=st.data())
def test_parse_of_a_mutated_fixture_raises_only_bad_payload(
    carrier: str, data: st.DataObject
) -> None:
    case = data.draw(st.sampled_from([case for case in ACCEPTED if case.carrier == carrier]))
    document = json.loads(case.body)
    if carrier == "usps" and data.draw(st.booleans()):
        document["payload"] = json.dumps(_mutate(json.loads(document["payload"]), data))
    else:
        document = _mutate(document, data)
    parses(carrier, json.dumps(document).encode())


@pytest.mark.parametrize("carrier", CARRIER_NAMES)
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 100_000, b"1" * 5_000, b"\xff\xfe", b"", b"null", b'"\\ud800"'],
    ids=["deep-list", "deep-object", "huge-int", "bad-utf8", "empty", "null", "surrogate"],
)
def test_hostile_bodies(carrier: str, body: bytes) -> None:
    with pytest.raises(BadPayload):
        CARRIERS[carrier].parse(body)
    auth = auth_from_config(
        carrier, {"scheme": CARRIERS[carrier].AUTH_SCHEME.value, "secret": "s" * 16}
    )
    assert not verifies(carrier, {CARRIERS[carrier].HEADER: "s" * 16}, body, auth, FIXED_NOW) or (
        CARRIERS[carrier].AUTH_SCHEME is AuthScheme.STATIC_HEADER  # the body is not signed
    )
