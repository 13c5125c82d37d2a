"""The canonical event: tz-aware, JSON shape of the contract, stable dedup identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from gateway.domain.events import CanonicalEvent, Location, Status
from gateway.domain.privacy import mask_email, mask_phone


def _event(**changes: object) -> CanonicalEvent:
    base: dict[str, object] = {
        "tracking_number": "1Z999",
        "carrier": "ups",
        "status": Status.IN_TRANSIT,
        "carrier_status_code": "DP",
        "occurred_at": datetime(2026, 3, 14, 2, 54, tzinfo=UTC),
        "location": Location("ATLANTA", "GA", "30301", "US"),
        "description": "Departed from Facility",
    }
    base.update(changes)
    return CanonicalEvent(**base)  # type: ignore[arg-type]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _event(occurred_at=datetime(2026, 3, 14, 2, 54))


def test_json_uses_utc_z_and_local_eta_date() -> None:
    minus4 = timezone(timedelta(hours=-4))
    data = _event(
        occurred_at=datetime(2026, 3, 13, 22, 54, tzinfo=minus4),
        estimated_delivery=date(2026, 3, 16),
    ).to_json()
    assert data["occurred_at"] == "2026-03-14T02:54:00Z"
    assert data["estimated_delivery"] == "2026-03-16"
    assert data["status"] == "in_transit"


def test_identity_ignores_pod_and_description_but_not_time_code_or_place() -> None:
    base = _event().identity()
    assert _event(signed_by="HOLLOWAY", description="other words").identity() == base
    assert _event(carrier_status_code="AR").identity() != base
    assert _event(occurred_at=datetime(2026, 3, 14, 2, 55, tzinfo=UTC)).identity() != base
    assert _event(location=None).identity() != base
    assert _event(tracking_number="1Z998").identity() != base


def test_location_from_empty_parts_is_none() -> None:
    assert Location.from_parts("", "", "", "") is None
    assert Location.from_parts("AUSTIN", "", None, "US") == Location("AUSTIN", None, None, "US")


def test_contacts_are_masked() -> None:
    assert mask_phone("+15555550123") == "+1••••••0123"
    assert mask_email("jane.doe@example.com") == "j•••@example.com"
    assert mask_phone(None) is None
