"""Request and response bodies of the shipments API (also in /openapi.json)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from gateway.carriers.schemas import CarrierName

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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone like America/New_York") from None
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
    promised_by: AwareDatetime | None = None


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


class ShipmentList(BaseModel):
    shipments: list[ShipmentOut]
