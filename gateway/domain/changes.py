"""A shipment change: the status or ETA of one shipment moved. Every reacting area gets one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from gateway.domain.events import Status


@dataclass(frozen=True, slots=True)
class ShipmentChange:
    id: str
    shipment_id: str
    tenant_id: str
    status_before: Status | None
    status_after: Status
    eta_before: date | None
    eta_after: date | None
    event_identity: str
    created_at: datetime

    @property
    def status_changed(self) -> bool:
        return self.status_before != self.status_after

    @property
    def eta_changed(self) -> bool:
        return self.eta_before != self.eta_after
