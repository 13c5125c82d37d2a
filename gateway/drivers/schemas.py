"""Request and response bodies of the merchant API for drivers, routes and alerts
(also in /openapi.json)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from gateway.drivers.rules.eta import DEFAULT_SERVICE_S
from gateway.drivers.rules.geofence import DEFAULT_RADIUS_M

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_STOPS = 200
MAX_PATH_POINTS = 10_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("must be an E.164 number like +15551234567")
    return value


class DriverIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    phone: str = Field(description="E.164, e.g. +15551234567 (relayed customer messages)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _e164(value)


class DriverPatch(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    phone: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return _e164(value) if value is not None else None


class PositionOut(BaseModel):
    lat: float
    lon: float
    recorded_at: datetime
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None


class DriverOut(BaseModel):
    id: str
    name: str
    phone: str | None = Field(description="masked")
    position: PositionOut | None = Field(description="the newest accepted ping")
    created_at: datetime
    updated_at: datetime


class DriverCreated(DriverOut):
    token: str = Field(description="the driver app's bearer token (a JWT); shown only here")
    token_expires_at: datetime


class DriverList(BaseModel):
    drivers: list[DriverOut]
    next_cursor: str | None


class StopIn(_In):
    shipment_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    service_s: float = Field(default=DEFAULT_SERVICE_S, ge=0, le=7200, allow_inf_nan=False)
    radius_m: float = Field(default=DEFAULT_RADIUS_M, ge=20, le=5000, allow_inf_nan=False)


class WindowIn(_In):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


LatLon = Annotated[list[float], Field(min_length=2, max_length=2)]


class RouteIn(_In):
    driver_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    stops: list[StopIn] = Field(min_length=1, max_length=MAX_STOPS)
    path: list[LatLon] | None = Field(
        default=None, min_length=2, max_length=MAX_PATH_POINTS, description="[[lat, lon], ...]"
    )
    window: WindowIn | None = None
    notify_stops_away: int | None = Field(
        default=None,
        ge=0,
        le=10,
        description="tell each customer their driver is arriving once it is this many stops "
        "away (e.g. 2); null: when the driver enters the stop's geofence",
    )

    @field_validator("path")
    @classmethod
    def _coordinates(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        for index, (lat, lon) in enumerate(value or []):
            if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90):
                raise ValueError(f"point {index} is not a [lat, lon] pair")
            if not -180 <= lon <= 180:
                raise ValueError(f"point {index} is not a [lat, lon] pair")
        return value

    @field_validator("stops")
    @classmethod
    def _unique(cls, value: list[StopIn]) -> list[StopIn]:
        seen: set[str] = set()
        for index, stop in enumerate(value):
            if stop.shipment_id in seen:
                raise ValueError(f"stop {index}: shipment {stop.shipment_id} is listed twice")
            seen.add(stop.shipment_id)
        return value


class StopOut(BaseModel):
    shipment_id: str
    tracking_number: str
    sequence: int
    state: str = Field(description="planned | active | arrived | done | failed")
    destination: dict[str, Any]
    radius_m: float
    service_s: float
    eta: datetime | None
    promised_by: datetime | None
    arrived_at: datetime | None
    done_at: datetime | None


class WindowOut(BaseModel):
    start: datetime | None
    end: datetime | None


class RouteOut(BaseModel):
    id: str
    driver_id: str
    state: str = Field(description="planned | active | done")
    window: WindowOut
    path: list[list[float]] | None
    notify_stops_away: int | None
    off_route: bool
    stops: list[StopOut]
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RouteList(BaseModel):
    routes: list[RouteOut]
    next_cursor: str | None


class AlertOut(BaseModel):
    id: str
    kind: str = Field(description="late | off_route | back_on_route | failed_attempt | low_rating")
    driver_id: str | None
    route_id: str | None
    shipment_id: str | None
    occurred_at: datetime
    created_at: datetime
    data: dict[str, Any]


class AlertList(BaseModel):
    alerts: list[AlertOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for older alerts")
