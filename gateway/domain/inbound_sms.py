"""An inbound SMS reply and the conversation it belongs to (the newest SMS sent to that number)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InboundSMS:
    from_number: str  # E.164, never logged
    to_number: str
    body: str
    message_sid: str
    tenant_id: str | None  # None: no notification was ever sent to this number
    shipment_id: str | None
    last_template: str | None  # event of the newest SMS sent there, e.g. "delivered"
