"""What a widget shows: the tracking status JSON of a widget token's shipment, for its origin.

The same view as the tracking page's `/status` (gateway/tracking/view.py), minus what belongs to
the customer's own page: `contact` (even masked, a store page is not the place) and `proof`
(its image links are relative to the tracking page). Plus `live` and the widget's `assets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain.events import Status
from gateway.drivers.shipment_view import driver_eta
from gateway.live.store_widget_tokens import WidgetGrant
from gateway.platform.db import READ_ONLY
from gateway.tracking import store as tracking
from gateway.tracking.links import delivered_long_ago
from gateway.tracking.routes import page_locale
from gateway.tracking.store import TrackedEvent, TrackedShipment
from gateway.tracking.store_links import delivered_at
from gateway.tracking.store_ratings import Rating
from gateway.tracking.view import PageInput, TrackingView, build_view

# Fields of the page's status JSON the widget does not get.
PAGE_ONLY = ("contact", "proof")


@dataclass(frozen=True, slots=True)
class WidgetShipment:
    shipment: TrackedShipment
    events: list[TrackedEvent]
    rating: Rating | None
    eta: datetime | None


async def load(engine: AsyncEngine, grant: WidgetGrant, now: datetime) -> WidgetShipment | None:
    """The grant's shipment if tracking still answers for it, else None.

    None when the shipment's links were revoked after the token was issued (the generation
    moved) or it was delivered more than 30 days ago, as for tracking links.
    """
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        loaded = await tracking.load_shipment_and_rating(conn, grant.shipment_id)
        if loaded is None:
            return None
        shipment, rating = loaded
        if (
            shipment.link_generation != grant.generation
            or shipment.tenant_id != grant.tenant_id
            or delivered_long_ago(delivered_at(shipment.status, shipment.status_at), now)
        ):
            return None
        events = await tracking.load_events(conn, shipment.id)
        eta = None
        if shipment.status != Status.DELIVERED:
            eta = await driver_eta(conn, shipment.id)
    return WidgetShipment(shipment, events, rating, eta)


def view_of(request: web.Request, found: WidgetShipment, now: datetime) -> TrackingView:
    given = PageInput(
        shipment=found.shipment,
        events=found.events,
        rating=found.rating,
        locale=page_locale(request, found.shipment),
        now=now,
        link_path=f"/widget/{request.match_info['token']}",
        driver_eta=found.eta,
    )
    return build_view(given)


def widget_json(view: TrackingView) -> dict[str, Any]:
    """The page's status JSON without what only the customer's own page shows."""
    data = view.to_json()
    for key in PAGE_ONLY:
        data.pop(key, None)
    return data


async def live_json(
    app: web.Application, found: WidgetShipment, view: TrackingView, now: datetime
) -> dict[str, Any]:
    """The `live` object (placeholder until gateway/live/view.py lands: nothing live)."""
    return {"destination": None, "driver": None, "path": [], "eta_text": None}
