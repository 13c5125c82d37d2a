"""What the tracking page shows, built once and rendered twice: HTML (Jinja2) and JSON (/status).

Pure: shipment, events, rating, locale and the time in; a TrackingView out. Every date is shown in
the recipient's time zone; contact details only ever appear masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.domain.events import Status, format_utc
from gateway.domain.privacy import mask_email, mask_phone
from gateway.domain.proof import InlinePhoto, inline_photo, photo_src
from gateway.domain.zones import to_local, zone_or_utc
from gateway.drivers.proof_links import ProofLinks
from gateway.tracking.page_text import PageLocale
from gateway.tracking.rules import editable_until, is_editable, may_rate
from gateway.tracking.store import TrackedEvent, TrackedShipment
from gateway.tracking.store_ratings import Rating

CARRIER_NAMES: Final = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHL"}
OWN_FLEET: Final = "driver"
_STEPS: Final = ("ordered", "shipped", "out_for_delivery", "delivered")
# status -> (index of the current step, tone of the status badge)
_PROGRESS: Final[dict[str, tuple[int, str]]] = {
    Status.UNKNOWN: (0, "neutral"),
    Status.PRE_TRANSIT: (0, "neutral"),
    Status.IN_TRANSIT: (1, "info"),
    Status.EXCEPTION: (1, "warn"),
    Status.OUT_FOR_DELIVERY: (2, "active"),
    Status.FAILED_ATTEMPT: (2, "warn"),
    Status.AVAILABLE_FOR_PICKUP: (2, "info"),
    Status.DELIVERED: (3, "good"),
    Status.RETURNED: (3, "bad"),
}


class Notice(StrEnum):
    """What the rating form's redirect asks the page to say (`?rating=`)."""

    THANKS = "thanks"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    label: str
    state: str  # done | current | problem | todo


@dataclass(frozen=True, slots=True)
class Entry:
    status: str
    label: str
    detail: str | None
    location: str | None
    occurred_at: datetime
    day: str
    time: str


@dataclass(frozen=True, slots=True)
class Day:
    label: str
    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class Proof:
    received_by: str | None
    photo_src: str | None
    signature_src: str | None = None  # only a driver's proof has a signature image


@dataclass(frozen=True, slots=True)
class RatingView:
    score: int
    comment: str | None
    editable: bool
    editable_until: datetime
    editable_until_text: str


@dataclass(frozen=True, slots=True)
class TrackingView:
    locale: PageLocale
    timezone: str
    store_name: str
    tracking_number: str
    carrier: str
    order_id: str | None
    status: str
    tone: str
    badge: str
    headline: str
    summary: str | None
    estimated_delivery: str | None
    promised_by: datetime | None
    delivered_at: datetime | None
    steps: list[Step]
    days: list[Day]
    proof: Proof | None
    rating: RatingView | None
    can_rate: bool
    contact: str | None
    notice: Notice | None = None

    def to_json(self) -> dict[str, Any]:
        entries = [entry for day in self.days for entry in day.entries]
        return {
            "store": {"name": self.store_name},
            "tracking_number": self.tracking_number,
            "carrier": self.carrier,
            "order_id": self.order_id,
            "status": self.status,
            "tone": self.tone,
            "badge": self.badge,
            "headline": self.headline,
            "summary": self.summary,
            "estimated_delivery": self.estimated_delivery,
            "promised_by": _iso(self.promised_by),
            "delivered_at": _iso(self.delivered_at),
            "steps": [{"key": s.key, "label": s.label, "state": s.state} for s in self.steps],
            "events": [_entry_json(e) for e in entries],
            "proof": _proof_json(self.proof),
            "rating": _rating_json(self.rating),
            "can_rate": self.can_rate,
            "contact": self.contact,
            "locale": self.locale.tag,
            "timezone": self.timezone,
        }


@dataclass(frozen=True, slots=True)
class PageInput:
    shipment: TrackedShipment
    events: list[TrackedEvent]
    rating: Rating | None
    locale: PageLocale
    now: datetime
    link_path: str  # `/t/{token}`: an inline (data:) photo is served below it
    driver_proof: ProofLinks | None = None  # the store's own driver's proof: signed image links
    driver_eta: datetime | None = None  # the store's own driver's estimate for this stop


def build_view(given: PageInput, notice: Notice | None = None) -> TrackingView:
    ship, loc = given.shipment, given.locale
    zone = _zone(ship.recipient.get("timezone"))
    status = ship.status if ship.status in _PROGRESS else Status.UNKNOWN.value
    step_index, tone = _PROGRESS[status]
    delivered = status == Status.DELIVERED
    return TrackingView(
        locale=loc,
        timezone=str(zone),
        store_name=ship.store_name,
        tracking_number=ship.tracking_number,
        carrier=_carrier_name(ship.carrier, ship.store_name),
        order_id=ship.order_id,
        status=status,
        tone=tone,
        badge=loc.t(f"badge.{status}"),
        headline=loc.t(f"status.{status}"),
        summary=_summary(given, status, zone),
        estimated_delivery=ship.estimated_delivery.isoformat() if ship.estimated_delivery else None,
        promised_by=ship.promised_by,
        delivered_at=ship.status_at if delivered else None,
        steps=_steps(loc, status, step_index),
        days=_days(given.events, loc, zone, given.now),
        proof=_proof(given.events, given.link_path, given.driver_proof) if delivered else None,
        rating=_rating(given.rating, loc, zone, given.now),
        can_rate=may_rate(status)
        and (given.rating is None or is_editable(given.rating.created_at, given.now)),
        contact=mask_phone(ship.recipient.get("phone")) or mask_email(ship.recipient.get("email")),
        notice=notice,
    )


def _carrier_name(carrier: str, store_name: str) -> str:
    if carrier == OWN_FLEET:
        return store_name  # the store's own drivers deliver it
    return CARRIER_NAMES.get(carrier, carrier.upper())


def _zone(name: object) -> ZoneInfo:
    return zone_or_utc(name or "UTC")


def _summary(given: PageInput, status: str, zone: ZoneInfo) -> str | None:
    ship, loc = given.shipment, given.locale
    if status == Status.DELIVERED and ship.status_at is not None:
        local = to_local(ship.status_at, zone)
        return loc.t("delivered.at", date=loc.day(local), time=loc.time(local))
    if status in (Status.RETURNED, Status.AVAILABLE_FOR_PICKUP):
        return loc.t(f"sub.{status}")
    today = to_local(given.now, zone).date()
    if given.driver_eta is not None and given.driver_eta > given.now:
        local = to_local(given.driver_eta, zone)
        if local.date() == today:
            return loc.t("eta.driver", time=loc.time(local))
        return loc.t("eta.by", date=loc.day(local), time=loc.time(local))
    if ship.estimated_delivery is not None and ship.estimated_delivery >= today:
        if ship.estimated_delivery == today:
            return loc.t("eta.today")
        noon = datetime.combine(ship.estimated_delivery, datetime.min.time(), zone)
        return loc.t("eta.date", date=loc.day(noon + timedelta(hours=12)))
    if ship.promised_by is not None and ship.promised_by > given.now:
        local = to_local(ship.promised_by, zone)
        return loc.t("eta.by", date=loc.day(local), time=loc.time(local))
    return loc.t(f"sub.{status}")


def _steps(loc: PageLocale, status: str, current: int) -> list[Step]:
    problem = status in (Status.EXCEPTION, Status.FAILED_ATTEMPT, Status.RETURNED)
    steps = []
    for index, key in enumerate(_STEPS):
        label = loc.t(f"step.{key}")
        if index == 2 and status == Status.AVAILABLE_FOR_PICKUP:
            label = loc.t("step.pickup")
        if index == 3 and status == Status.RETURNED:
            label = loc.t("step.returned")
        if index < current or (index == current == 3 and not problem):
            state = "done"
        elif index == current:
            state = "problem" if problem else "current"
        else:
            state = "todo"
        steps.append(Step(key, label, state))
    return steps


def _days(events: list[TrackedEvent], loc: PageLocale, zone: ZoneInfo, now: datetime) -> list[Day]:
    """Newest first, grouped by the recipient's local day."""
    today = to_local(now, zone).date()
    days: list[Day] = []
    for event in reversed(events):
        local = to_local(event.occurred_at, zone)
        if local.date() == today:
            label = loc.t("today")
        elif local.date() == today - timedelta(days=1):
            label = loc.t("yesterday")
        else:
            label = loc.day(local)
        if not days or days[-1].label != label:
            days.append(Day(label, []))
        days[-1].entries.append(_entry(event, loc, local, label))
    return days


def _entry(event: TrackedEvent, loc: PageLocale, local: datetime, day: str) -> Entry:
    status = event.status if event.status in _PROGRESS else Status.UNKNOWN.value
    label = loc.t(f"badge.{status}") if status != Status.UNKNOWN else _tidy(event.description)
    detail = _tidy(event.description)
    if detail.casefold() == label.casefold() or status == Status.UNKNOWN:
        detail = ""
    return Entry(
        status=status,
        label=label or loc.t("badge.unknown"),
        detail=detail or None,
        location=event.location.label() if event.location else None,
        occurred_at=event.occurred_at,
        day=day,
        time=loc.time(local),
    )


def _tidy(text: str) -> str:
    """Carrier SHOUTING becomes a sentence; mixed case is left alone."""
    text = " ".join(text.split())
    return text.capitalize() if text.isupper() else text


def _proof(
    events: list[TrackedEvent], link_path: str, driver_proof: ProofLinks | None
) -> Proof | None:
    """A driver's proof (name, photo, signature), else the newest proof fields among the
    carrier's events (a re-delivery may add the photo later)."""
    if driver_proof is not None:
        name = driver_proof.received_by
        return Proof(
            name.title() if name.isupper() else name,
            driver_proof.photo_url,
            driver_proof.signature_url,
        )
    received_by = photo = None
    for event in events:
        received_by = event.signed_by or received_by
        photo = event.photo_url or photo
    if received_by and received_by.isupper():
        received_by = received_by.title()
    src = photo_src(photo, link_path)
    return Proof(received_by, src) if received_by or src else None


def newest_inline_photo(events: list[TrackedEvent]) -> InlinePhoto | None:
    """The newest inline (data:) photo, for `/t/{token}/photo`."""
    for event in reversed(events):
        photo = inline_photo(event.photo_url)
        if photo is not None:
            return photo
    return None


def _rating(
    rating: Rating | None, loc: PageLocale, zone: ZoneInfo, now: datetime
) -> RatingView | None:
    if rating is None:
        return None
    until = editable_until(rating.created_at)
    local = to_local(until, zone)
    return RatingView(
        score=rating.score,
        comment=rating.comment,
        editable=is_editable(rating.created_at, now),
        editable_until=until,
        editable_until_text=loc.t("rate.editable", date=loc.day(local), time=loc.time(local)),
    )


def _iso(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "occurred_at": format_utc(entry.occurred_at),
        "status": entry.status,
        "label": entry.label,
        "description": entry.detail,
        "location": entry.location,
        "local_day": entry.day,
        "local_time": entry.time,
    }


def _proof_json(proof: Proof | None) -> dict[str, Any] | None:
    if proof is None:
        return None
    return {
        "received_by": proof.received_by,
        "photo_url": proof.photo_src,
        "signature_url": proof.signature_src,
    }


def _rating_json(rating: RatingView | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {
        "score": rating.score,
        "comment": rating.comment,
        "editable": rating.editable,
        "editable_until": format_utc(rating.editable_until),
    }
