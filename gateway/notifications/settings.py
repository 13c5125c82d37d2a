"""A tenant's notification settings: quiet hours, urgent events, burst window, SMS help text."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.notifications.rules import QuietHours, TriggerEvent

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
DEFAULT_COLLAPSE_WINDOW_S: Final = 30


class QuietHoursSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: Annotated[str, StringConstraints(pattern=_HHMM)] = Field(
        default="21:00", description="local time in the recipient's zone, HH:MM"
    )
    end: Annotated[str, StringConstraints(pattern=_HHMM)] = "08:00"

    def window(self) -> QuietHours:
        return QuietHours(time.fromisoformat(self.start), time.fromisoformat(self.end))


class NotificationSettings(BaseModel):
    """Stored as JSON per tenant; a tenant without a row has these defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quiet_hours: QuietHoursSetting | None = Field(
        default_factory=QuietHoursSetting,
        description="non-urgent messages wait until the end; null turns quiet hours off",
    )
    urgent_events: list[TriggerEvent] = Field(
        default_factory=list,
        max_length=len(TriggerEvent),
        description="sent even during quiet hours, e.g. delivered, failed_attempt",
    )
    collapse_window_s: int = Field(
        default=DEFAULT_COLLAPSE_WINDOW_S,
        ge=0,
        le=900,
        description="the first news goes out at once; news for the shipment within this "
        "window after a message collapses into the newest, sent when the window closes; 0: off",
    )
    email_proof_of_delivery: bool = Field(
        default=True,
        description="a delivery with proof (signature, photo) is also emailed to a recipient "
        "with an email address, whatever channel told them it was delivered",
    )
    help_text: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(
        default=None, description="reply to HELP/INFO by SMS; null: a built-in text"
    )

    @field_validator("urgent_events")
    @classmethod
    def _unique(cls, value: list[TriggerEvent]) -> list[TriggerEvent]:
        return list(dict.fromkeys(value))
