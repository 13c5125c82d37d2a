"""The canonical tracking event: what every carrier adapter and the driver app produce."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Canonical shipment status taxonomy (contract: "Canonical event")."""

    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Location:
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @classmethod
    def from_parts(
        cls,
        city: str | None,
        region: str | None,
        postal_code: str | None,
        country: str | None,
    ) -> Location | None:
        """Empty strings become None; a location with no field at all is None."""
        loc = cls(city or None, region or None, postal_code or None, country or None)
        return None if loc == cls() else loc

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> Location | None:
        """A stored location (`to_json`'s shape) back; None for none."""
        if not data:
            return None

        def part(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value else None

        return cls.from_parts(part("city"), part("region"), part("postal_code"), part("country"))

    def to_json(self) -> dict[str, str | None]:
        return {
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
        }

    def label(self) -> str | None:
        """How customers see a place, on the page and in messages: `Charlotte, NC`.

        A SHOUTED city (as carriers send them) is title-cased, mixed case is left alone; the
        country stands in for a missing region.
        """
        city = self.city or ""
        city = city.title() if city.isupper() else city
        parts = (city, self.region or self.country or "")
        return ", ".join(part for part in parts if part) or None


def format_utc(moment: datetime) -> str:
    """`2026-03-14T13:12:40Z`: UTC, second precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    tracking_number: str
    carrier: str
    status: Status
    carrier_status_code: str
    occurred_at: datetime  # tz-aware, UTC, whole seconds
    location: Location | None
    description: str
    estimated_delivery: date | None = None
    signed_by: str | None = None
    photo_url: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")

    def identity(self) -> str:
        """Dedup key: the same scan re-delivered yields the same identity.

        Carrier, tracking number, raw code, UTC second and location identify a scan; the
        description and POD fields are left out so that a re-delivery that adds a signature
        or a photo enriches the stored event instead of duplicating it.
        """
        loc = self.location or Location()
        parts = (
            self.carrier,
            self.tracking_number,
            self.carrier_status_code,
            format_utc(self.occurred_at),
            loc.city or "",
            loc.region or "",
            loc.postal_code or "",
            loc.country or "",
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "status": self.status.value,
            "carrier_status_code": self.carrier_status_code,
            "occurred_at": format_utc(self.occurred_at),
            "location": self.location.to_json() if self.location else None,
            "description": self.description,
            "estimated_delivery": (
                self.estimated_delivery.isoformat() if self.estimated_delivery else None
            ),
            "signed_by": self.signed_by,
            "photo_url": self.photo_url,
        }
