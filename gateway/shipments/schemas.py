"""Request and response bodies of the shipments API (also in /openapi.json)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from gateway.carriers.schemas import CarrierName
from gateway.domain.events import Status
from gateway.domain.moments import Moment
from gateway.domain.zones import is_zone

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecipientIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    phone: str | None = Field(default=None, description="E.164, e.g. +15551234567")
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    push_tokens: list[Annotated[str, StringConstraints(min_length=1, max_length=4096)]] = Field(
        default_factory=list, max_length=20
    )
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "en-US"
    timezone: str = "UTC"
    channels: list[Literal["push", "sms", "email"]] | None = Field(
        default=None,
        max_length=3,
        description="the customer's channels in order of preference; [] opts out of all",
    )

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not _E164.match(value):
            raise ValueError("must be an E.164 number like +15551234567")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not is_zone(value):
            raise ValueError("must be an IANA time zone like America/New_York")
        return value


class DestinationIn(_In):
    """Where the parcel goes; the store's own drivers need the coordinates (no geocoding)."""

    address: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _not_null_island(self) -> DestinationIn:
        if self.lat == 0 and self.lon == 0:  # a geocoder's "not found", never an address
            raise ValueError("lat and lon are both 0: not a delivery address")
        return self


class ShipmentIn(_In):
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=64, to_upper=True)]
    # `driver`: delivered by the store's own drivers (a route's stops; no carrier webhooks).
    carrier: CarrierName | Literal["driver"]
    order_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    recipient: RecipientIn
    destination: DestinationIn | None = None
    promised_by: Moment | None = None


class LocationOut(BaseModel):
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None


class EventOut(BaseModel):
    tracking_number: str
    carrier: str
    status: str
    carrier_status_code: str
    occurred_at: str = Field(description="UTC, ISO-8601 with Z")
    location: LocationOut | None
    description: str
    estimated_delivery: date | None
    signed_by: str | None
    photo_url: str | None


class RecipientOut(BaseModel):
    name: str | None = None
    phone: str | None = Field(default=None, description="masked")
    email: str | None = Field(default=None, description="masked")
    locale: str | None = None
    timezone: str | None = None


class ShipmentOut(BaseModel):
    id: str
    tracking_number: str
    carrier: str
    status: str
    estimated_delivery: date | None
    eta: datetime | None = None
    events: list[EventOut]
    tracking_url: str | None
    order_id: str | None
    recipient: RecipientOut | None
    destination: dict[str, Any] | None
    promised_by: datetime | None
    registered: bool
    created_at: datetime
    updated_at: datetime


MAX_PAGE: Final = 100


class ShipmentSummary(BaseModel):
    """A shipment as listed: no timeline (GET /v1/shipments/{id} has it)."""

    id: str
    tracking_number: str
    carrier: str
    status: str
    estimated_delivery: date | None
    order_id: str | None
    recipient: RecipientOut | None
    promised_by: datetime | None
    registered: bool
    created_at: datetime
    updated_at: datetime


class ShipmentList(BaseModel):
    shipments: list[ShipmentSummary] = Field(description="newest first")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class ShipmentListQuery(BaseModel):
    """`GET /v1/shipments` without `tracking_number`: a page of the store's shipments."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: list[Status] = Field(
        default_factory=list, description="comma-separated statuses, e.g. out_for_delivery"
    )
    carrier: CarrierName | Literal["driver"] | None = None  # `driver`: the store's own fleet
    created_since: Moment | None = Field(default=None, description="inclusive")
    created_until: Moment | None = Field(default=None, description="exclusive")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")

    @field_validator("status", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return (
            [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, str)
            else value
        )

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)  # raises ValueError for anything we did not hand out
        return value


def encode_cursor(created_at: datetime, shipment_id: str) -> str:
    """Opaque to clients: where the next page starts (after this shipment)."""
    raw = json.dumps([created_at.isoformat(), shipment_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor this gateway did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, shipment_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("not a cursor from this API") from None
    if moment.tzinfo is None or not isinstance(shipment_id, str):
        raise ValueError("not a cursor from this API")
    return moment, shipment_id
