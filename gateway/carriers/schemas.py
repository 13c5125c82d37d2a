"""Request and response bodies of carrier connections (also in /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CarrierName = Literal["ups", "fedex", "usps", "dhl"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CarrierAuthIn(BaseModel):
    """Exactly the `auth` object of the carrier fixtures; `secrets` (two) while rotating."""

    model_config = ConfigDict(extra="allow")

    scheme: Literal["static_header", "hmac_sha256_base64", "hmac_sha256_base64_ts_payload"]
    header: str | None = None
    secret: str | None = Field(default=None, description="write-only: never returned")
    secrets: list[str] | None = Field(
        default=None, max_length=2, description="the new and the previous secret while rotating"
    )


class CarrierConnectionIn(_In):
    carrier: CarrierName
    auth: CarrierAuthIn


class CarrierConnectionOut(BaseModel):
    id: str
    carrier: str
    webhook_url: str


class CarrierConnectionView(BaseModel):
    """A connection as listed: never its secrets, only how many are active."""

    id: str
    carrier: str
    webhook_url: str
    scheme: str
    header: str
    active_secrets: int = Field(description="2 while a secret is rotating")
    created_at: datetime


class CarrierConnectionList(BaseModel):
    carrier_connections: list[CarrierConnectionView]


class CarrierConnectionPatch(_In):
    auth: CarrierAuthIn
