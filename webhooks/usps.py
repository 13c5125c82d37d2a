"""USPS Subscriptions (Tracking): a JSON envelope whose `payload` string is the tracking document.

The `X-HMAC` header signs `timestamp + payload` (the envelope's decoded string values), so
verifying already needs the envelope decoded; a payload string that is not JSON still
authenticates and then fails `parse` (400, not 401).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any, Final

from gateway.domain.events import CanonicalEvent, Location, Status
from webhooks import fields
from webhooks.base import AuthScheme, BadPayload, ConnectionAuth
from webhooks.signing import check_hmac_ts_payload

CARRIER: Final = "usps"
AUTH_SCHEME: Final = AuthScheme.HMAC_SHA256_BASE64_TS_PAYLOAD
HEADER: Final = "X-HMAC"  # Base64(HMAC-SHA256(secret, timestamp + payload))

# By trackingEvents[].eventCode.
STATUS: Final[Mapping[str, Status]] = {
    "GX": Status.PRE_TRANSIT,  # Shipping label created, USPS awaiting item
    "MA": Status.PRE_TRANSIT,  # Pre-shipment info sent to USPS (manifest acknowledgement)
    "03": Status.IN_TRANSIT,  # Accepted: USPS in possession of item
    "07": Status.IN_TRANSIT,  # Arrived at post office / unit
    "10": Status.IN_TRANSIT,  # Processed through USPS facility
    "OF": Status.OUT_FOR_DELIVERY,  # Out for delivery
    "01": Status.DELIVERED,  # Delivered
    "02": Status.FAILED_ATTEMPT,  # Notice left (no authorized recipient available)
    "14": Status.AVAILABLE_FOR_PICKUP,  # Arrival at pickup point: available for pickup
    "04": Status.EXCEPTION,  # Refused
    "21": Status.EXCEPTION,  # No such number
    "09": Status.RETURNED,  # Return to sender
}


def status_of(event_code: str) -> Status:
    """The canonical status of an eventCode; unmapped codes are `unknown`."""
    return STATUS.get(event_code, Status.UNKNOWN)


def verify(headers: Mapping[str, str], body: bytes, auth: ConnectionAuth, *, now: datetime) -> None:
    """`X-HMAC` must sign the envelope's `timestamp + payload`; the timestamp must be fresh.

    `now` is the caller's clock (tz-aware); the envelope `timestamp` must lie within
    `auth.max_age_s` of it.

    Raises:
        BadSignature: for any problem with the envelope, the signature or its freshness.
    """
    check_hmac_ts_payload(headers, body, auth, now=now)


def parse(body: bytes) -> list[CanonicalEvent]:
    """Every tracking event of the envelope's payload, in payload order (newest first).

    Raises:
        BadPayload: envelope or payload not JSON of the tracking shape, a blank tracking
            number, or a malformed date or time.
    """
    envelope = fields.obj(fields.load_json(body), "body")
    payload = envelope.get("payload")
    if not isinstance(payload, str):
        raise BadPayload("payload is not a string")
    document = fields.obj(fields.load_json(payload), "payload")
    number = fields.tracking_number(document, "trackingNumber")
    expected = _date(fields.text(document, "expectedDeliveryDate"))
    return [
        CanonicalEvent(
            tracking_number=number,
            carrier=CARRIER,
            status=status_of(fields.text(event, "eventCode")),
            carrier_status_code=fields.text(event, "eventCode"),
            occurred_at=_occurred_at(event),
            location=Location.from_parts(
                fields.text(event, "eventCity"),
                fields.text(event, "eventState"),
                fields.text(event, "eventZIP"),
                fields.text(event, "eventCountry"),  # "" for domestic scans
            ),
            description=fields.text(event, "eventType"),
            estimated_delivery=expected,
            signed_by=fields.text(event, "name") or None,
        )
        for event in fields.objects(document, "trackingEvents")
    ]


def _occurred_at(event: Mapping[str, Any]) -> datetime:
    """`GMTTimestamp`; without it (not seen so far), local `eventTimestamp` minus `GMTOffset`."""
    gmt = fields.text(event, "GMTTimestamp")
    if gmt:
        return fields.utc_from_iso(gmt, "GMTTimestamp", naive_is_utc=True)
    local, offset = fields.text(event, "eventTimestamp"), fields.text(event, "GMTOffset")
    if not local or not offset:
        raise BadPayload("GMTTimestamp is missing")
    zone = timezone(fields.utc_offset(offset, "GMTOffset"))
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        raise BadPayload("eventTimestamp is not an ISO-8601 time") from None
    if moment.utcoffset() is not None:
        return fields.utc(moment)
    return fields.utc(moment.replace(tzinfo=zone))


def _date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadPayload("expectedDeliveryDate is not YYYY-MM-DD") from None
