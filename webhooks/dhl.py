"""DHL Shipment Tracking push: `shipments[]` with their events, authenticated by `DHL-API-Key`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from gateway.domain.events import CanonicalEvent, Location, Status
from webhooks import fields
from webhooks.base import AuthScheme, ConnectionAuth
from webhooks.signing import check_static_header

CARRIER: Final = "dhl"
AUTH_SCHEME: Final = AuthScheme.STATIC_HEADER
HEADER: Final = "DHL-API-Key"

# By events[].statusCode. DHL has no separate out-for-delivery code.
STATUS: Final[Mapping[str, Status]] = {
    "pre-transit": Status.PRE_TRANSIT,  # Shipment information received, not yet handed over
    "transit": Status.IN_TRANSIT,  # Any movement, including "with delivery courier"
    "delivered": Status.DELIVERED,  # Delivered
    "failure": Status.EXCEPTION,  # Delivery failed or shipment problem
    "unknown": Status.UNKNOWN,  # DHL itself has no status yet
}


def status_of(status_code: str) -> Status:
    """The canonical status of a statusCode; unmapped codes are `unknown`."""
    return STATUS.get(status_code, Status.UNKNOWN)


def verify(headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime) -> None:
    """The `DHL-API-Key` header must equal a configured secret (the body is not signed).

    Raises:
        BadSignature: for any problem with the API key.
    """
    check_static_header(headers, auth)


def parse(body: bytes) -> list[CanonicalEvent]:
    """Every event of every shipment, in payload order; `status` repeats the newest event.

    Raises:
        BadPayload: body not a JSON object of the push shape, a blank shipment id, or a
            timestamp without a UTC offset.
    """
    push = fields.obj(fields.load_json(body), "body")
    events: list[CanonicalEvent] = []
    for shipment in fields.objects(push, "shipments"):
        events.extend(_shipment_events(shipment))
    return events


def _shipment_events(shipment: Mapping[str, Any]) -> list[CanonicalEvent]:
    number = fields.tracking_number(shipment, "id")
    estimated = fields.local_date(
        fields.text(shipment, "estimatedTimeOfDelivery"), "estimatedTimeOfDelivery"
    )
    signer = _signer(shipment)
    return [
        _event(number, event, estimated, signer)
        for event in fields.objects(shipment, "events", required=False)
    ]


def _event(
    number: str, event: Mapping[str, Any], estimated: date | None, signer: str | None
) -> CanonicalEvent:
    code = fields.text(event, "statusCode")
    return CanonicalEvent(
        tracking_number=number,
        carrier=CARRIER,
        status=status_of(code),
        carrier_status_code=code,
        occurred_at=fields.utc_from_iso(fields.text(event, "timestamp"), "timestamp"),
        location=_location(fields.optional_obj(event, "location")),
        description=fields.text(event, "description"),
        estimated_delivery=estimated,
        signed_by=signer if code == "delivered" else None,  # proof of delivery
    )


def _signer(shipment: Mapping[str, Any]) -> str | None:
    """`details.proofOfDelivery.signed.name`, or None anywhere along the way."""
    node: Mapping[str, Any] | None = shipment
    for key in ("details", "proofOfDelivery", "signed"):
        node = fields.optional_obj(node, key) if node is not None else None
    return (fields.text(node, "name") or None) if node is not None else None


def _location(location: Mapping[str, Any] | None) -> Location | None:
    address = fields.optional_obj(location, "address") if location is not None else None
    if address is None:
        return None
    return Location.from_parts(
        fields.text(address, "addressLocality"),
        None,  # DHL sends no region
        fields.text(address, "postalCode"),
        fields.text(address, "countryCode"),
    )
