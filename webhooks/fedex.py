"""FedEx Advanced Integrated Visibility: packages of scan events, signed with `fdx-signature`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, Final

from gateway.domain.events import CanonicalEvent, Location, Status
from webhooks import fields
from webhooks.base import AuthScheme, ConnectionAuth
from webhooks.signing import check_hmac_body

CARRIER: Final = "fedex"
AUTH_SCHEME: Final = AuthScheme.HMAC_SHA256_BASE64
HEADER: Final = "fdx-signature"  # Base64(HMAC-SHA256(secret, raw body))

# By scanEvents[].eventType (derivedStatusCode is coarser and ignored).
STATUS: Final[Mapping[str, Status]] = {
    "OC": Status.PRE_TRANSIT,  # Shipment information sent to FedEx (label created)
    "PU": Status.IN_TRANSIT,  # Picked up
    "IT": Status.IN_TRANSIT,  # In transit
    "AR": Status.IN_TRANSIT,  # Arrived at FedEx location
    "DP": Status.IN_TRANSIT,  # Departed FedEx location
    "AF": Status.IN_TRANSIT,  # At FedEx facility
    "OD": Status.OUT_FOR_DELIVERY,  # On FedEx vehicle for delivery (derivedStatusCode says IT)
    "DL": Status.DELIVERED,  # Delivered
    "DE": Status.EXCEPTION,  # Delivery exception (see STATUS_BY_EXCEPTION_CODE)
    "SE": Status.EXCEPTION,  # Shipment exception
    "HL": Status.AVAILABLE_FOR_PICKUP,  # Hold at location: ready for pickup
    "HP": Status.AVAILABLE_FOR_PICKUP,  # Ready for recipient pickup
    "RS": Status.RETURNED,  # Return to shipper
}

# By (eventType, exceptionCode); checked before STATUS.
STATUS_BY_EXCEPTION_CODE: Final[Mapping[tuple[str, str], Status]] = {
    ("DE", "08"): Status.FAILED_ATTEMPT,  # Customer not available or business closed
}


def status_of(event_type: str, exception_code: str) -> Status:
    """The canonical status of a scan event; unmapped event types are `unknown`."""
    by_exception = STATUS_BY_EXCEPTION_CODE.get((event_type, exception_code))
    if by_exception is not None:
        return by_exception
    return STATUS.get(event_type, Status.UNKNOWN)


def verify(headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime) -> None:
    """`fdx-signature` must be Base64(HMAC-SHA256(secret, body)) for a configured secret.

    Raises:
        BadSignature: for any problem with the signature.
    """
    check_hmac_body(headers, body, auth)


def parse(body: bytes) -> list[CanonicalEvent]:
    """Every scan event of every package, packages in payload order, scans as listed.

    Raises:
        BadPayload: body not a JSON object of the AIV shape, a blank tracking number, or a
            scan date without a UTC offset.
    """
    output = fields.obj(fields.obj(fields.load_json(body), "body").get("output"), "output")
    events: list[CanonicalEvent] = []
    for package in fields.objects(output, "completeTrackResults"):
        number = fields.tracking_number(package, "trackingNumber")
        for result in fields.objects(package, "trackResults"):
            events.extend(_package_events(number, result))
    return events


def _package_events(number: str, result: Mapping[str, Any]) -> Iterator[CanonicalEvent]:
    estimated = _estimated_delivery(result)  # per package: applies to all its scans
    delivery = fields.optional_obj(result, "deliveryDetails")
    received_by = fields.text(delivery, "receivedByName") if delivery else ""
    for scan in fields.objects(result, "scanEvents", required=False):
        event_type = fields.text(scan, "eventType")
        yield CanonicalEvent(
            tracking_number=number,
            carrier=CARRIER,
            status=status_of(event_type, fields.text(scan, "exceptionCode")),
            carrier_status_code=event_type,
            occurred_at=fields.utc_from_iso(fields.text(scan, "date"), "date"),
            location=_location(fields.optional_obj(scan, "scanLocation")),
            description=fields.text(scan, "eventDescription"),
            estimated_delivery=estimated,
            signed_by=(received_by or None) if event_type == "DL" else None,
        )


def _estimated_delivery(result: Mapping[str, Any]) -> date | None:
    """The local date the window begins (or, lacking that, ends); `{}` gives None."""
    time_window = fields.optional_obj(result, "estimatedDeliveryTimeWindow")
    window = fields.optional_obj(time_window, "window") if time_window else None
    if not window:
        return None
    bound = fields.text(window, "begins") or fields.text(window, "ends")
    return fields.local_date(bound, "estimatedDeliveryTimeWindow")


def _location(scan_location: Mapping[str, Any] | None) -> Location | None:
    if scan_location is None:
        return None
    return Location.from_parts(
        fields.text(scan_location, "city"),
        fields.text(scan_location, "stateOrProvinceCode"),
        fields.text(scan_location, "postalCode"),
        fields.text(scan_location, "countryCode"),
    )
