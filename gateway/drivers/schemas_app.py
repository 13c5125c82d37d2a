"""Request and response bodies of the driver app's API (`/v1/driver/...`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from gateway.drivers.rules.pings import MAX_BATCH_PINGS

StopEventType = Literal["picked_up", "out_for_delivery", "arrived", "delivered", "failed_attempt"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PingIn(_In):
    # Coordinates are not range-checked here: an impossible one is a refused ping with its
    # reason (the rules' screening), not a refused batch.
    lat: float
    lon: float
    recorded_at: AwareDatetime
    accuracy_m: float | None = Field(default=None, description="metres, 68% confidence")
    speed_mps: float | None = None
    heading: float | None = Field(default=None, description="degrees from north")


class LocationsIn(_In):
    pings: list[PingIn] = Field(min_length=1, max_length=MAX_BATCH_PINGS)


class PingVerdict(BaseModel):
    status: Literal["accepted", "refused"]
    trusted: bool | None = Field(
        default=None, description="accepted pings: accurate enough for geofence and deviation"
    )
    reason: str | None = Field(
        default=None,
        description="refused pings: bad_coordinates, zero_coordinates, future_time, too_old, "
        "duplicate, implausible_speed",
    )


class LocationsOut(BaseModel):
    accepted: int
    refused: int
    route_id: str | None = Field(description="the route these pings were counted for")
    pings: list[PingVerdict] = Field(description="one verdict per ping, in the order sent")


class StopEventIn(_In):
    type: StopEventType
    occurred_at: AwareDatetime
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class StopOutForDriver(BaseModel):
    shipment_id: str
    route_id: str
    state: str
    eta: datetime | None


class StopEventOut(BaseModel):
    accepted: bool = Field(description="false: the same event was already recorded")
    stop: StopOutForDriver
    route_state: str


class ProofOut(BaseModel):
    id: str
    shipment_id: str
    recipient_name: str
    photo: bool
    signature: bool
    delivered_at: datetime
