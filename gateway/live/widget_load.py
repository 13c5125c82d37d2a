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
from gateway.domain.zones import zone_or_utc
from gateway.drivers.shipment_view import driver_eta
from gateway.live import store_widget_tokens as token_store
from gateway.live.store_widget_tokens import WidgetGrant
from gateway.live.stream import LinkGone
from gateway.live.view import live_state
from gateway.live.widget_assets import assets_json
from gateway.platform.appkeys import CLOCK, DB, SETTINGS
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
        if loaded is None or not answers(loaded[0], grant, now):
            return None
        shipment, rating = loaded
        events = await tracking.load_events(conn, shipment.id)
        eta = None
        if shipment.status != Status.DELIVERED:
            eta = await driver_eta(conn, shipment.id)
    return WidgetShipment(shipment, events, rating, eta)


async def still_open(engine: AsyncEngine, token: str, now: datetime) -> bool:
    """Does the token still open its shipment? (An open stream asks now and then.)"""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        grant = await token_store.lookup(conn, token, now)
    return grant is not None and await shipment_of(engine, grant, now) is not None


async def shipment_of(
    engine: AsyncEngine, grant: WidgetGrant, now: datetime
) -> TrackedShipment | None:
    """The grant's shipment, without its events, if tracking still answers for it."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        shipment = await tracking.load_shipment(conn, grant.shipment_id)
    return shipment if shipment is not None and answers(shipment, grant, now) else None


def answers(shipment: TrackedShipment, grant: WidgetGrant, now: datetime) -> bool:
    return (
        shipment.link_generation == grant.generation  # links not revoked since it was issued
        and shipment.tenant_id == grant.tenant_id
        and not delivered_long_ago(delivered_at(shipment.status, shipment.status_at), now)
    )


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


async def state_json(request: web.Request, grant: WidgetGrant) -> dict[str, Any]:
    """The widget's status JSON (also each `state` of its stream).

    Raises LinkGone when the token no longer opens the shipment (the stream then says `gone`).
    """
    now = request.app[CLOCK].now()
    found = await load(request.app[DB], grant, now)
    if found is None:
        raise LinkGone()
    view = view_of(request, found, now)
    body = widget_json(view)
    body["live"] = await live_state(
        request.app, found.shipment.id, locale=view.locale, zone=zone_or_utc(view.timezone), now=now
    )
    body["assets"] = assets_json(request.app[SETTINGS])
    return body
