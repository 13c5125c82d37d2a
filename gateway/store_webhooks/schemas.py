"""Bodies of the store webhook endpoints API (`/v1/webhook-endpoints`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from gateway.domain.moments import Moment
from gateway.store_webhooks.events import EventType

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Description = Annotated[str, StringConstraints(max_length=500)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
Email = Annotated[str, StringConstraints(max_length=320)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("event_types", check_fields=False)
    @classmethod
    def _distinct(cls, value: list[EventType] | None) -> list[EventType] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("alert_email", check_fields=False)
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address")
        return value


class WebhookEndpointIn(_In):
    url: Url = Field(description="https:// (plain http and private hosts only in dev mode)")
    event_types: EventTypes
    description: Description = ""
    enabled: bool = True
    include_pii: bool = Field(
        default=False, description="send recipient phone and email in payloads"
    )
    alert_email: Email | None = Field(
        default=None, description="told by email when we disable this endpoint"
    )


class WebhookEndpointPatch(_In):
    """Only the fields given change."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None
    include_pii: bool | None = None
    alert_email: Email | None = None

    @field_validator("url", "event_types", "description", "enabled", "include_pii")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    include_pii: bool
    alert_email: str | None
    disabled_reason: str | None = Field(description="manual | gone (410) | failing (5 days)")
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="while set, the previous secret signs too"
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="whsec_…: shown once")


class WebhookEndpointList(BaseModel):
    endpoints: list[WebhookEndpointOut]


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="whsec_…: shown once; signs from now on")
    previous_secret_expires_at: datetime = Field(
        description="the previous secret signs too until then"
    )


class WebhookAttemptOut(BaseModel):
    message_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str | None = Field(description="the first 1 KiB")
    error: str | None
    next_retry_at: datetime | None


class WebhookAttemptList(BaseModel):
    attempts: list[WebhookAttemptOut]


class WebhookReplayIn(_In):
    since: Moment


class WebhookReplayOut(BaseModel):
    replayed: int
    message_ids: list[str]
