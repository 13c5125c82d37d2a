"""The status tables, code by code, against tests/fixtures/carriers/README.md.

The expected tables are written out here on purpose: a code added to a carrier module fails
these tests until the README and this file say what it means.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.domain.events import Status
from tests.webhooks.carrier_fixtures import CASES, CarrierCase
from webhooks import dhl, fedex, ups, usps
from webhooks.registry import CARRIERS

S = Status

UPS_BY_TYPE = {
    "M": S.PRE_TRANSIT,
    "I": S.IN_TRANSIT,
    "U": S.IN_TRANSIT,
    "D": S.DELIVERED,
    "X": S.EXCEPTION,
    "RS": S.RETURNED,
}
FEDEX_BY_EVENT_TYPE = {
    "OC": S.PRE_TRANSIT,
    **dict.fromkeys(["PU", "IT", "AR", "DP", "AF"], S.IN_TRANSIT),
    "OD": S.OUT_FOR_DELIVERY,
    "DL": S.DELIVERED,
    "DE": S.EXCEPTION,
    "SE": S.EXCEPTION,
    "HL": S.AVAILABLE_FOR_PICKUP,
    "HP": S.AVAILABLE_FOR_PICKUP,
    "RS": S.RETURNED,
}
USPS_BY_EVENT_CODE = {
    "GX": S.PRE_TRANSIT,
    "MA": S.PRE_TRANSIT,
    "03": S.IN_TRANSIT,
    "07": S.IN_TRANSIT,
    "10": S.IN_TRANSIT,
    "OF": S.OUT_FOR_DELIVERY,
    "01": S.DELIVERED,
    "02": S.FAILED_ATTEMPT,
    "14": S.AVAILABLE_FOR_PICKUP,
    "04": S.EXCEPTION,
    "21": S.EXCEPTION,
    "09": S.RETURNED,
}
DHL_BY_STATUS_CODE = {
    "pre-transit": S.PRE_TRANSIT,
    "transit": S.IN_TRANSIT,
    "delivered": S.DELIVERED,
    "failure": S.EXCEPTION,
    "unknown": S.UNKNOWN,
}
UNKNOWN_CODES = ["", "ZZ", "zz", "od", "dl", "99", "1", "out-for-delivery", "Delivered", " DL"]


def test_tables_are_exactly_the_documented_ones() -> None:
    assert dict(ups.STATUS) == UPS_BY_TYPE
    assert dict(ups.STATUS_BY_CODE) == {("I", "OT"): S.OUT_FOR_DELIVERY}
    assert dict(ups.STATUS_BY_DESCRIPTION_CODE) == {
        ("X", code): S.FAILED_ATTEMPT for code in ("022", "023", "024")
    }
    assert dict(fedex.STATUS) == FEDEX_BY_EVENT_TYPE
    assert dict(fedex.STATUS_BY_EXCEPTION_CODE) == {("DE", "08"): S.FAILED_ATTEMPT}
    assert dict(usps.STATUS) == USPS_BY_EVENT_CODE
    assert dict(dhl.STATUS) == DHL_BY_STATUS_CODE


@pytest.mark.parametrize(("activity_type", "expected"), UPS_BY_TYPE.items())
def test_ups_type(activity_type: str, expected: Status) -> None:
    assert ups.status_of(activity_type, "AB", "005") is expected


@pytest.mark.parametrize(
    ("activity_type", "code", "description_code", "expected"),
    [
        ("I", "OT", "021", S.OUT_FOR_DELIVERY),  # out for delivery today
        ("I", "OT", "", S.OUT_FOR_DELIVERY),  # the code decides, not its descriptionCode
        ("I", "AR", "005", S.IN_TRANSIT),
        ("M", "OT", "021", S.PRE_TRANSIT),  # OT refines type I only
        ("X", "48", "022", S.FAILED_ATTEMPT),  # first attempt, receiver not available
        ("X", "49", "023", S.FAILED_ATTEMPT),  # second attempt
        ("X", "50", "024", S.FAILED_ATTEMPT),  # final attempt
        ("X", "WX", "032", S.EXCEPTION),  # weather: not an attempt
        ("X", "48", "", S.EXCEPTION),
        ("X", "48", "025", S.EXCEPTION),
        ("D", "FS", "022", S.DELIVERED),  # attempts refine type X only
        ("RS", "RS", "", S.RETURNED),
    ],
)
def test_ups_special_cases(
    activity_type: str, code: str, description_code: str, expected: Status
) -> None:
    assert ups.status_of(activity_type, code, description_code) is expected


@pytest.mark.parametrize("activity_type", [*UNKNOWN_CODES, "m", "i", "R", "S", "XX"])
def test_ups_unknown_type(activity_type: str) -> None:
    assert ups.status_of(activity_type, "OT", "022") is S.UNKNOWN


@pytest.mark.parametrize(("event_type", "expected"), FEDEX_BY_EVENT_TYPE.items())
def test_fedex_event_type(event_type: str, expected: Status) -> None:
    assert fedex.status_of(event_type, "") is expected


@pytest.mark.parametrize(
    ("event_type", "exception_code", "expected"),
    [
        ("DE", "08", S.FAILED_ATTEMPT),  # customer not available or business closed
        ("DE", "", S.EXCEPTION),
        ("DE", "07", S.EXCEPTION),
        ("DE", "8", S.EXCEPTION),
        ("SE", "08", S.EXCEPTION),  # 08 refines DE only
        ("DL", "08", S.DELIVERED),
    ],
)
def test_fedex_delivery_exception(event_type: str, exception_code: str, expected: Status) -> None:
    assert fedex.status_of(event_type, exception_code) is expected


@pytest.mark.parametrize(("event_code", "expected"), USPS_BY_EVENT_CODE.items())
def test_usps_event_code(event_code: str, expected: Status) -> None:
    assert usps.status_of(event_code) is expected


@pytest.mark.parametrize(("status_code", "expected"), DHL_BY_STATUS_CODE.items())
def test_dhl_status_code(status_code: str, expected: Status) -> None:
    assert dhl.status_of(status_code) is expected


@pytest.mark.parametrize("code", UNKNOWN_CODES)
def test_unmapped_codes_are_unknown(code: str) -> None:
    assert fedex.status_of(code, "") is S.UNKNOWN
    assert fedex.status_of(code, "08") is S.UNKNOWN
    assert usps.status_of(code) is S.UNKNOWN
    assert dhl.status_of(code) is S.UNKNOWN


def _first_accepted(carrier: str) -> CarrierCase:
    return next(c for c in CASES if c.carrier == carrier and c.expect_http == "accepted")


def _with_code(carrier: str, code: str) -> bytes:
    """The first accepted fixture of `carrier` with every event's status code set to `code`."""
    document: Any = json.loads(_first_accepted(carrier).body)
    if carrier == "ups":
        document["activityStatus"] |= {"type": code, "code": code}
    elif carrier == "fedex":
        for package in document["output"]["completeTrackResults"]:
            for result in package["trackResults"]:
                for scan in result["scanEvents"]:
                    scan["eventType"] = code
    elif carrier == "usps":
        payload = json.loads(document["payload"])
        for event in payload["trackingEvents"]:
            event["eventCode"] = code
        document["payload"] = json.dumps(payload)
    else:
        for shipment in document["shipments"]:
            for event in shipment["events"]:
                event["statusCode"] = code
    return json.dumps(document).encode()


@pytest.mark.parametrize("carrier", ["ups", "fedex", "usps", "dhl"])
def test_an_unknown_code_is_kept_raw_and_not_guessed(carrier: str) -> None:
    events = CARRIERS[carrier].parse(_with_code(carrier, "Q9"))
    assert events
    assert {(event.status, event.carrier_status_code) for event in events} == {(S.UNKNOWN, "Q9")}
