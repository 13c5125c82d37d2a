"""Bodies of the notification endpoints (rules, settings, templates, the log); in /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.notifications.rules import ChannelKind, DeliveryMode, TriggerEvent
from gateway.notifications.settings import NotificationSettings, QuietHoursSetting

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TemplateSource = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an entry")
    return values


class NotificationRuleIn(_In):
    name: Name
    events: list[TriggerEvent] = Field(
        min_length=1,
        max_length=len(TriggerEvent),
        description="canonical statuses and dispatcher events (arriving, late, eta_changed)",
    )
    channels: list[ChannelKind] = Field(
        min_length=1,
        max_length=len(ChannelKind),
        description="in order: with mode=fallback the next one is tried after a failure",
    )
    mode: DeliveryMode = Field(
        default=DeliveryMode.FALLBACK,
        description="fallback: the first reachable channel, then the next on failure; all: each",
    )
    enabled: bool = True

    @field_validator("events", "channels")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        return _unique(value)


class NotificationRulePatch(_In):
    name: Name | None = None
    events: list[TriggerEvent] | None = Field(default=None, min_length=1)
    channels: list[ChannelKind] | None = Field(default=None, min_length=1, max_length=3)
    mode: DeliveryMode | None = None
    enabled: bool | None = None

    @field_validator("events", "channels")
    @classmethod
    def _no_repeats(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value)


class NotificationRuleOut(BaseModel):
    id: str
    name: str
    events: list[TriggerEvent]
    channels: list[ChannelKind]
    mode: DeliveryMode
    enabled: bool
    created_at: datetime | None = Field(default=None, description="null for a built-in default")
    updated_at: datetime | None = None


class NotificationRuleList(BaseModel):
    rules: list[NotificationRuleOut]
    defaults_active: bool = Field(description="true while the store has no rules of its own")
    defaults: list[NotificationRuleOut] = Field(description="what applies while it has none")


class NotificationSettingsPatch(_In):
    """Only the fields given change; `quiet_hours: null` turns quiet hours off."""

    quiet_hours: QuietHoursSetting | None = None
    urgent_events: list[TriggerEvent] | None = None
    collapse_window_s: int | None = Field(default=None, ge=0, le=900)
    help_text: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None


NotificationSettingsOut = NotificationSettings


class TemplateIn(_In):
    """sms: body; push: title and body; email: subject, text and html (Jinja2, sandboxed)."""

    subject: TemplateSource | None = None
    title: TemplateSource | None = None
    body: TemplateSource | None = None
    text: TemplateSource | None = None
    html: TemplateSource | None = None


class TemplateOut(BaseModel):
    channel: ChannelKind
    locale: str
    event: TriggerEvent
    parts: dict[str, str]
    updated_at: datetime
    preview: str | None = Field(default=None, description="rendered with sample values")
    sms_segments: int | None = Field(default=None, description="SMS: billed segments (max 2)")


class TemplateList(BaseModel):
    templates: list[TemplateOut]
    variables: list[str] = Field(description="what a template can use")


class NotificationOut(BaseModel):
    id: str
    shipment_id: str
    event: str
    channel: ChannelKind
    to: str | None = Field(description="masked phone, email or push token")
    template: str | None
    subject: str | None = Field(description="email subject or push title")
    body: str | None = Field(description="the rendered SMS, plain-text email or push body")
    sms_segments: int | None = Field(description="SMS: segments billed (GSM-7 or UCS-2)")
    status: str = Field(description="queued | sent | delivered | failed | suppressed")
    reason: str | None = Field(
        description="why not (yet) sent; outcome_unknown: the provider may have sent it (a "
        "worker died or the provider did not answer), so it is not sent again on its own"
    )
    provider_message_id: str | None
    attempts: int
    send_after: datetime | None = Field(
        description="waiting (quiet hours, collapse window, retry back-off) until"
    )
    resend_of: str | None = Field(
        default=None, description="the notification this one re-sends (POST .../resend)"
    )
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
