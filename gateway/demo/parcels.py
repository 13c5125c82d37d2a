"""Demo parcels: one after another walks from label to doorstep as real, signed UPS webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.demo.console import say
from gateway.shipments.store import Registration, register
from gateway.tracking.store_short_links import current_tracking_url

log = logging.getLogger(__name__)

STEP_S: Final = 8.0
# (UPS activity type, code, description code, description), replayed in order for each parcel.
_UPS_STEPS: Final = (
    ("M", "MP", "", "Shipper created a label, UPS has not received the package yet."),
    ("I", "DP", "005", "Departed from Facility"),
    ("I", "OT", "021", "Out For Delivery Today"),
    ("D", "FS", "011", "DELIVERED"),
)


async def replay_forever(
    db: AsyncEngine, tenant_id: str, public_url: str, hook_url: str, credential: str
) -> None:
    """Register a parcel, post its UPS events STEP_S apart, start the next; until cancelled."""
    async with aiohttp.ClientSession() as session:
        while True:
            tracking_number = "1ZDEMO" + secrets.token_hex(6).upper()
            async with db.begin() as conn:
                shipment_id = await register(conn, tenant_id, _registration(tracking_number))
                page = await current_tracking_url(conn, public_url, shipment_id, datetime.now(UTC))
            say(f"\n  demo parcel {tracking_number}: registered, a UPS update every {STEP_S:.0f}s")
            say(f"    tracking page:  {page}")
            say(f"    its outbox:     {public_url}/v1/notifications?shipment_id={shipment_id}")
            for step in _UPS_STEPS:
                await _post(session, hook_url, credential, tracking_number, step)
                await asyncio.sleep(STEP_S)


async def _post(
    session: aiohttp.ClientSession,
    hook_url: str,
    credential: str,
    tracking_number: str,
    step: tuple[str, str, str, str],
) -> None:
    body = json.dumps(_ups_event(tracking_number, *step), separators=(",", ":"))
    headers = {"credential": credential, "Content-Type": "application/json"}
    try:
        async with session.post(hook_url, data=body, headers=headers) as response:
            accepted = response.status == 202
    except aiohttp.ClientError as exc:
        log.warning("demo replay failed: %s", type(exc).__name__)
        return
    mark = "→ UPS webhook accepted" if accepted else f"✗ UPS webhook answered {response.status}"
    say(f"  {mark}: {tracking_number} {step[3].rstrip('.')}")


def _registration(tracking_number: str) -> Registration:
    return Registration(
        tracking_number=tracking_number,
        carrier="ups",
        order_id="DEMO-" + tracking_number[-4:],
        recipient={
            "name": "Alex Rivera",
            "phone": "+15555550123",
            "email": "alex@example.com",
            "push_tokens": [],
            "locale": "en-US",
            "timezone": "America/New_York",
        },
        destination={
            "address": "350 Fifth Avenue, New York, NY 10118",
            "lat": 40.7484,
            "lon": -73.9857,
        },
        promised_by=datetime.now(UTC) + timedelta(hours=4),
    )


def _ups_event(
    tracking_number: str, kind: str, code: str, desc_code: str, text: str
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    local = now - timedelta(hours=5)
    return {
        "trackingNumber": tracking_number,
        "localActivityDate": local.strftime("%Y%m%d"),
        "localActivityTime": local.strftime("%H%M%S"),
        "activityLocation": {
            "city": "NEW YORK",
            "stateProvince": "NY",
            "postalCode": "10118",
            "country": "US",
        },
        "activityStatus": {
            "type": kind,
            "code": code,
            "description": text,
            "descriptionCode": desc_code,
        },
        "scheduledDeliveryDate": local.strftime("%Y%m%d"),
        "actualDeliveryDate": "",
        "actualDeliveryTime": "",
        "gmtActivityDate": now.strftime("%Y%m%d"),
        "gmtActivityTime": now.strftime("%H%M%S"),
        "gmtOffset": "-05:00",
        "deliveryStartTime": "",
        "deliveryEndTime": "",
        "deliveryTimeDescription": "",
        "receivedBy": "RIVERA" if kind == "D" else "",
    }
