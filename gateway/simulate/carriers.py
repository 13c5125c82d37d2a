"""Carrier parcels as a carrier sends them: FedEx tracking pushes (Advanced Integrated
Visibility shape), signed with the connection's secret in `fdx-signature`
(Base64 of HMAC-SHA256 over the raw body), exactly as webhooks/fedex.py verifies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

CHICAGO: Final = ZoneInfo("America/Chicago")  # FedEx stamps scans in local time
SCAN_LOCATIONS: Final = {
    "OC": None,
    "AR": {"city": "CHICAGO", "stateOrProvinceCode": "IL", "postalCode": "60607"},
    "OD": {"city": "CHICAGO", "stateOrProvinceCode": "IL", "postalCode": "60607"},
    "DL": {"city": "CHICAGO", "stateOrProvinceCode": "IL", "postalCode": "60622"},
}


def fedex_push(
    tracking_number: str,
    code: str,
    description: str,
    at: datetime,
    estimated: datetime,
    received_by: str | None = None,
) -> dict[str, Any]:
    """One package with one scan event."""
    local = at.astimezone(CHICAGO).replace(microsecond=0)
    location = SCAN_LOCATIONS.get(code)
    scan: dict[str, Any] = {
        "date": local.isoformat(),
        "eventType": code,
        "eventDescription": description,
        "exceptionCode": "",
        "exceptionDescription": "",
    }
    if location is not None:
        scan["scanLocation"] = {**location, "countryCode": "US", "residential": code == "DL"}
    window = estimated.astimezone(CHICAGO).replace(microsecond=0).isoformat()
    result = {
        "trackingNumberInfo": {"trackingNumber": tracking_number, "carrierCode": "FDXG"},
        "latestStatusDetail": {"code": code, "description": description},
        "deliveryDetails": {"receivedByName": received_by or ""},
        "estimatedDeliveryTimeWindow": {"window": {"begins": window, "ends": window}},
        "scanEvents": [scan],
    }
    package = {"trackingNumber": tracking_number, "trackResults": [result]}
    # A random transaction id: FedEx's own, and nothing the simulation's seed needs to fix.
    return {"transactionId": str(uuid.uuid4()), "output": {"completeTrackResults": [package]}}


def signed(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of the request, signed the way FedEx signs."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.digest(secret.encode(), body, hashlib.sha256)).decode()
    return body, {"Content-Type": "application/json", "fdx-signature": signature}
