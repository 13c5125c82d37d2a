"""UPS Track Alert: one JSON event per POST, authenticated by a static `credential` header."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timezone, tzinfo
from typing import Any, Final

from gateway.domain.events import CanonicalEvent, Location, Status
from webhooks import fields
from webhooks.base import AuthScheme, BadPayload, ConnectionAuth
from webhooks.signing import check_static_header

CARRIER: Final = "ups"
AUTH_SCHEME: Final = AuthScheme.STATIC_HEADER
HEADER: Final = "credential"  # echoes the credential chosen when the subscription was made

# By activityStatus.type; the two tables below refine it first.
STATUS: Final[Mapping[str, Status]] = {
    "M": Status.PRE_TRANSIT,  # Manifest: label created, UPS has the shipment data only
    "I": Status.IN_TRANSIT,  # In transit: origin, hub and destination scans
    "U": Status.IN_TRANSIT,  # Update: e.g. scheduled delivery date changed
    "D": Status.DELIVERED,  # Delivered
    "X": Status.EXCEPTION,  # Exception: weather, damage, address problem...
    "RS": Status.RETURNED,  # Returned to shipper
}

# By (type, activityStatus.code).
STATUS_BY_CODE: Final[Mapping[tuple[str, str], Status]] = {
    ("I", "OT"): Status.OUT_FOR_DELIVERY,  # Out For Delivery Today (descriptionCode 021)
}

# By (type, activityStatus.descriptionCode).
STATUS_BY_DESCRIPTION_CODE: Final[Mapping[tuple[str, str], Status]] = {
    ("X", "022"): Status.FAILED_ATTEMPT,  # First delivery attempt made, receiver not available
    ("X", "023"): Status.FAILED_ATTEMPT,  # Second delivery attempt made
    ("X", "024"): Status.FAILED_ATTEMPT,  # Final delivery attempt made
}

_DIGITS8: Final = re.compile(r"[0-9]{8}")
_DIGITS6: Final = re.compile(r"[0-9]{6}")


def status_of(activity_type: str, code: str, description_code: str) -> Status:
    """The canonical status of an `activityStatus`; unmapped types are `unknown`."""
    by_code = STATUS_BY_CODE.get((activity_type, code))
    if by_code is not None:
        return by_code
    by_description = STATUS_BY_DESCRIPTION_CODE.get((activity_type, description_code))
    if by_description is not None:
        return by_description
    return STATUS.get(activity_type, Status.UNKNOWN)


def verify(headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime) -> None:
    """The `credential` header must equal a configured secret (the body is not signed).

    Raises:
        BadSignature: for any problem with the request's credential.
    """
    check_static_header(headers, auth)


def parse(body: bytes) -> list[CanonicalEvent]:
    """The single event of a Track Alert POST.

    Raises:
        BadPayload: body not a JSON object of the Track Alert shape, blank tracking number,
            or a malformed date, time or offset.
    """
    event = fields.obj(fields.load_json(body), "body")
    activity = fields.obj(event.get("activityStatus"), "activityStatus")
    code = fields.text(activity, "code")
    return [
        CanonicalEvent(
            tracking_number=fields.tracking_number(event, "trackingNumber"),
            carrier=CARRIER,
            status=status_of(
                fields.text(activity, "type"), code, fields.text(activity, "descriptionCode")
            ),
            carrier_status_code=code,
            occurred_at=_occurred_at(event),
            location=_location(fields.optional_obj(event, "activityLocation")),
            description=fields.text(activity, "description"),
            estimated_delivery=_date(fields.text(event, "scheduledDeliveryDate")),
            signed_by=fields.text(event, "receivedBy") or None,
            photo_url=fields.image_data_url(fields.text(event, "deliveryPhoto")),
        )
    ]


def _occurred_at(event: Mapping[str, Any]) -> datetime:
    """The GMT pair; without it (not seen so far), local time minus `gmtOffset`."""
    gmt_date = fields.text(event, "gmtActivityDate")
    gmt_time = fields.text(event, "gmtActivityTime")
    if gmt_date or gmt_time:
        return _moment(gmt_date, gmt_time, UTC)
    offset = fields.text(event, "gmtOffset")
    if not offset:
        raise BadPayload("gmtActivityDate is missing")
    zone = timezone(fields.utc_offset(offset, "gmtOffset"))
    local_date = fields.text(event, "localActivityDate")
    local_time = fields.text(event, "localActivityTime")
    return fields.utc(_moment(local_date, local_time, zone))


def _moment(day: str, time: str, zone: tzinfo) -> datetime:
    if not _DIGITS8.fullmatch(day) or not _DIGITS6.fullmatch(time):
        raise BadPayload("activity date or time is not YYYYMMDD/HHMMSS")
    try:
        return datetime(
            int(day[:4]), int(day[4:6]), int(day[6:]),
            int(time[:2]), int(time[2:4]), int(time[4:]), tzinfo=zone,
        )  # fmt: skip
    except ValueError:
        raise BadPayload("activity date or time is out of range") from None


def _date(value: str) -> date | None:
    if not value:
        return None
    if not _DIGITS8.fullmatch(value):
        raise BadPayload("scheduledDeliveryDate is not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise BadPayload("scheduledDeliveryDate is out of range") from None


def _location(address: Mapping[str, Any] | None) -> Location | None:
    if address is None:
        return None
    return Location.from_parts(
        fields.text(address, "city"),
        fields.text(address, "stateProvince"),
        fields.text(address, "postalCode"),
        fields.text(address, "country"),
    )
