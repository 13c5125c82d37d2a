"""README rules the fixtures don't pin down alone: offsets, photos, windows, signers, fallbacks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from gateway.domain.events import Location
from tests.webhooks.carrier_fixtures import CASES
from webhooks import dhl, fedex, ups, usps
from webhooks.base import BadPayload, BadSignature
from webhooks.registry import auth_from_config
from webhooks.signing import sign

BY_ID = {case.id: case for case in CASES}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 16).decode()


def document(case_id: str) -> Any:
    return json.loads(BY_ID[case_id].body)


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def ups_event(**changes: Any) -> bytes:
    return encode(document("ups/out_for_delivery") | changes)


@pytest.mark.parametrize(
    ("offset", "local", "expected"),
    [
        ("-04.00", "084107", "2026-03-16T12:41:07Z"),  # the documented ±HH.MM
        ("-04:00", "084107", "2026-03-16T12:41:07Z"),
        ("+05:30", "031026", "2026-03-15T21:40:26Z"),  # local date a day ahead of UTC
        ("+05.30", "031026", "2026-03-15T21:40:26Z"),
        ("-09:30", "220000", "2026-03-17T07:30:00Z"),
    ],
)
def test_ups_local_time_minus_offset_when_there_is_no_gmt_pair(
    offset: str, local: str, expected: str
) -> None:
    body = ups_event(gmtActivityDate="", gmtActivityTime="", gmtOffset=offset)
    body = body.replace(
        b'"localActivityTime": "084107"', b'"localActivityTime": "%s"' % local.encode()
    )
    assert ups.parse(body)[0].to_json()["occurred_at"] == expected


@pytest.mark.parametrize("offset", ["", "-4", "04:00", "-04-00", "+25:00", "-04:60", "Z"])
def test_ups_bad_or_missing_offset_without_gmt_pair(offset: str) -> None:
    with pytest.raises(BadPayload):
        ups.parse(ups_event(gmtActivityDate="", gmtActivityTime="", gmtOffset=offset))


@pytest.mark.parametrize(
    "changes",
    [
        {"gmtActivityDate": "2026316"},
        {"gmtActivityTime": "24:00:00"},
        {"gmtActivityDate": "20260230"},
        {"gmtActivityTime": "250000"},
        {"gmtActivityDate": "\uff12\uff10\uff12\uff16\uff10\uff13\uff11\uff16"},  # fullwidth digits
        {"scheduledDeliveryDate": "2026-03-16"},
        {"scheduledDeliveryDate": "20261301"},
        {"activityStatus": "I"},
        {"trackingNumber": "   "},
        {"trackingNumber": 1234567890},
    ],
)
def test_ups_malformed_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        ups.parse(ups_event(**changes))


def test_ups_tracking_number_is_trimmed_and_upper_cased() -> None:
    assert ups.parse(ups_event(trackingNumber=" 1z8r2f610373102544\n"))[0].tracking_number == (
        "1Z8R2F610373102544"
    )


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        (JPEG, "data:image/jpeg;base64," + JPEG),
        (PNG, "data:image/png;base64," + PNG),  # the media type comes from the bytes
        ("", None),
        (base64.b64encode(b"<svg onload=alert(1)>").decode(), None),  # not embedded
        ("not base64!", None),
        (JPEG[:-2], None),  # truncated: invalid padding
        ("/9j/" + "é", None),
    ],
)
def test_ups_delivery_photo(photo: str, expected: str | None) -> None:
    assert ups.parse(ups_event(deliveryPhoto=photo))[0].photo_url == expected


def test_ups_location_is_none_when_absent_or_all_empty() -> None:
    body = document("ups/out_for_delivery")
    del body["activityLocation"]
    assert ups.parse(encode(body))[0].location is None
    empty = dict.fromkeys(["city", "stateProvince", "postalCode", "country"], "")
    assert ups.parse(ups_event(activityLocation=empty))[0].location is None
    assert ups.parse(ups_event(activityLocation={"city": "Charlotte"}))[0].location == Location(
        city="Charlotte"
    )


def fedex_package(case_id: str) -> tuple[Any, Any]:
    body = document(case_id)
    return body, body["output"]["completeTrackResults"][0]["trackResults"][0]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"ends": "2026-03-16T20:00:00-04:00"}, date(2026, 3, 16)),
        ({"begins": "2026-03-16T23:30:00-07:00"}, date(2026, 3, 16)),  # UTC would be the 17th
        ({"begins": "", "ends": ""}, None),
        ({}, None),
    ],
)
def test_fedex_estimated_window(window: dict[str, str], expected: date | None) -> None:
    body, result = fedex_package("fedex/picked_up")
    result["estimatedDeliveryTimeWindow"]["window"] = window
    assert fedex.parse(encode(body))[0].estimated_delivery == expected


def test_fedex_signed_by_only_on_delivered_and_naive_dates_rejected() -> None:
    body, result = fedex_package("fedex/out_for_delivery")
    result["deliveryDetails"]["receivedByName"] = "R.OKONKWO"
    assert fedex.parse(encode(body))[0].signed_by is None  # OD, not DL
    result["scanEvents"][0]["date"] = "2026-03-14T08:12:40.987-05:00"
    assert fedex.parse(encode(body))[0].occurred_at == datetime(2026, 3, 14, 13, 12, 40, tzinfo=UTC)
    result["scanEvents"][0]["date"] = "2026-03-14T08:12:40"
    with pytest.raises(BadPayload):
        fedex.parse(encode(body))


def test_dhl_signer_only_on_delivered_events() -> None:
    body = document("dhl/transit_events_local_date_differs")
    body["shipments"][0]["details"]["proofOfDelivery"] = {"signed": {"name": "SCHNEIDER"}}
    assert [event.signed_by for event in dhl.parse(encode(body))] == [None, None, None]
    body["shipments"][0]["details"] = "none"
    with pytest.raises(BadPayload):
        dhl.parse(encode(body))


def usps_body(**event_changes: Any) -> bytes:
    envelope = document("usps/delivered_signed_by")
    payload = json.loads(envelope["payload"])
    payload["trackingEvents"][0] |= event_changes
    return encode(envelope | {"payload": json.dumps(payload)})


def test_usps_gmt_fallback_and_signer() -> None:
    event = usps.parse(usps_body(GMTTimestamp="", GMTOffset="-04:00"))[0]
    assert event.occurred_at == datetime(2026, 3, 14, 17, 2, tzinfo=UTC)
    assert event.signed_by == "M RIVERA"
    assert usps.parse(usps_body(name=""))[0].signed_by is None
    with pytest.raises(BadPayload):
        usps.parse(usps_body(GMTTimestamp="", GMTOffset=""))


@pytest.mark.parametrize(
    "envelope",
    [
        b"not json",
        b"[]",
        b'{"payload": "{}"}',  # no timestamp
        b'{"timestamp": "2026-03-14T17:03:43Z"}',  # no payload
        b'{"timestamp": 1773507823, "payload": "{}"}',
        b'{"timestamp": "2026-03-14T17:03:43", "payload": "{}"}',  # naive
        b'{"timestamp": "yesterday", "payload": "{}"}',
        b'{"timestamp": "\\ud800", "payload": "{}"}',  # lone surrogate
    ],
)
def test_usps_verify_rejects_unusable_envelopes(envelope: bytes) -> None:
    auth = auth_from_config("usps", BY_ID["usps/delivered_signed_by"].auth)
    try:
        envelope_json = json.loads(envelope)
        message = (envelope_json["timestamp"] + envelope_json["payload"]).encode()
    except (ValueError, KeyError, TypeError):
        message = envelope  # the signature can't be right: sign something
    headers = {"X-HMAC": sign(auth.secrets[0], message)}
    with pytest.raises(BadSignature):
        usps.verify(headers, envelope, auth, now=datetime(2026, 3, 14, 17, 3, 43, tzinfo=UTC))
