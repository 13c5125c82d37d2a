"""Sample data in the shape of the live data contract (gateway/live/README.md).

A UPS parcel out for delivery in Charlotte, NC on 2026-03-16 (EDT, UTC-4): the destination, a
driver about 1.4 km away and the route between them.
"""

from __future__ import annotations

import copy
from typing import Any, Final

DESTINATION: Final = (35.2271, -80.8431)
DRIVER: Final = (35.2180, -80.8530)
# The route the driver will take, from the driver to the door.
PATH: Final = [
    [35.2180, -80.8530],
    [35.2204, -80.8530],
    [35.2204, -80.8478],
    [35.2241, -80.8478],
    [35.2241, -80.8431],
    [35.2271, -80.8431],
]
DRIVER_LABEL: Final = "Your driver is 1.4 km away · seen 10:42 AM"
ETA_TEXT: Final = "Arriving in about 12 min"
SEEN_AT: Final = "2026-03-16T14:42:05Z"  # 10:42 AM in America/New_York

_STATUS: Final[dict[str, Any]] = {
    "store": {"name": "Corner Books"},
    "tracking_number": "1Z8R2F610373102544",
    "carrier": "UPS",
    "order_id": "A-1001",
    "status": "out_for_delivery",
    "tone": "active",
    "badge": "Out for delivery",
    "headline": "Your parcel is out for delivery",
    "summary": "Arriving today",
    "estimated_delivery": "2026-03-16",
    "promised_by": None,
    "delivered_at": None,
    "steps": [
        {"key": "ordered", "label": "Ordered", "state": "done"},
        {"key": "shipped", "label": "Shipped", "state": "done"},
        {"key": "out_for_delivery", "label": "Out for delivery", "state": "current"},
        {"key": "delivered", "label": "Delivered", "state": "todo"},
    ],
    "events": [  # newest first, as the page shows them
        {
            "occurred_at": "2026-03-16T12:41:00Z",
            "status": "out_for_delivery",
            "label": "Out for delivery",
            "description": None,
            "location": "Charlotte, NC",
            "local_day": "Today",
            "local_time": "8:41 AM",
        },
        {
            "occurred_at": "2026-03-16T09:12:00Z",
            "status": "in_transit",
            "label": "In transit",
            "description": "Arrived at facility",
            "location": "Charlotte, NC",
            "local_day": "Today",
            "local_time": "5:12 AM",
        },
        {
            "occurred_at": "2026-03-16T02:05:00Z",
            "status": "in_transit",
            "label": "In transit",
            "description": "Departed facility",
            "location": "Atlanta, GA",
            "local_day": "Yesterday",
            "local_time": "10:05 PM",
        },
    ],
    "proof": None,
    "rating": None,
    "can_rate": False,
    "contact": "+1••••••0123",
    "locale": "en-US",
    "timezone": "America/New_York",
    "live": {
        "destination": {"lat": DESTINATION[0], "lon": DESTINATION[1]},
        "driver": {
            "lat": DRIVER[0],
            "lon": DRIVER[1],
            "heading": 0,
            "recorded_at": SEEN_AT,
            "stale": False,
            "label": DRIVER_LABEL,
        },
        "path": PATH,
        "eta_text": ETA_TEXT,
    },
}


def out_for_delivery() -> dict[str, Any]:
    """A fresh copy of the sample status JSON (tests change their copy freely)."""
    return copy.deepcopy(_STATUS)


def position(
    lat: float,
    lon: float,
    *,
    recorded_at: str = "2026-03-16T14:43:05Z",
    stale: bool = False,
    label: str | None = "Your driver is 1.1 km away · seen 10:43 AM",
    heading: float | None = 0,
) -> dict[str, Any]:
    """The data of a `position` event."""
    return {
        "lat": lat,
        "lon": lon,
        "heading": heading,
        "recorded_at": recorded_at,
        "stale": stale,
        "label": label,
    }
