"""Customer tracking pages: `/t/{token}` (HTML), `/status` (JSON), `/photo`, `/rating`.

The page also shows the message box of the chat with the driver (gateway/chat/: its form posts
to `/t/{token}/messages`).

The token in the path is the capability. A bad, expired or revoked token, a shipment delivered
more than 30 days ago and an unknown path under /t/ all get the one 404 page (tracking/pages.py).

Opens: a GET of the page by a person records a visit (gateway/tracking/store.py: first and last
visit, count of visits at least 30 minutes apart). HEAD, `/status`, link-preview bots, crawlers
and browser prefetches record nothing and change nothing; bots get a page without parcel details.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from gateway.chat.page import ChatNotice, chat_view, notice_of
from gateway.chat.page_load import ChatState, load_chat_state
from gateway.domain.events import Status, format_utc
from gateway.domain.zones import zone_or_utc
from gateway.drivers import proof_links
from gateway.drivers.proof_links import ProofLinks
from gateway.drivers.shipment_view import driver_eta
from gateway.live.static_files import static_url
from gateway.live.view import LiveCard, live_state
from gateway.platform.appkeys import CLOCK, DB, SETTINGS
from gateway.platform.db import READ_ONLY
from gateway.platform.http.edge import read_form
from gateway.platform.http.errors import ApiError
from gateway.platform.http.openapi import read_body
from gateway.tracking import pages
from gateway.tracking import store as tracking
from gateway.tracking.link_resolver import LinkResolver
from gateway.tracking.links import delivered_long_ago
from gateway.tracking.page_text import PageLocale, from_accept_language, supported
from gateway.tracking.pages import (
    json_page_response,
    live_page_headers,
    page_response,
    render,
)
from gateway.tracking.previews import is_preview_fetch
from gateway.tracking.ratings import record_rating
from gateway.tracking.rules import (
    MAX_COMMENT_CHARS,
    RatingInput,
    RatingLocked,
    RatingNotAllowed,
    RatingSource,
    clean_comment,
    editable_until,
)
from gateway.tracking.store import TrackedEvent, TrackedShipment
from gateway.tracking.store_links import delivered_at
from gateway.tracking.store_ratings import Rating
from gateway.tracking.view import (
    OWN_FLEET,
    Notice,
    PageInput,
    TrackingView,
    build_view,
    newest_inline_photo,
)

log = logging.getLogger(__name__)

LINKS: Final = web.AppKey("tracking_links", LinkResolver)
PHOTO_HEADERS: Final = {
    "Cache-Control": "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
}
_FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


@dataclass(frozen=True, slots=True)
class Loaded:
    shipment: TrackedShipment
    events: list[TrackedEvent]
    rating: Rating | None
    now: datetime
    driver_proof: ProofLinks | None = None
    driver_eta: datetime | None = None
    chat: ChatState | None = None  # the message box (with details only)


async def load_link(request: web.Request, *, details: bool = True) -> Loaded:
    """The shipment behind a valid, current token of either kind (short or signed).

    Raises HTTPNotFound (the one 404 page) for an unknown, expired or revoked token.
    """
    token = request.match_info["token"]
    now = request.app[CLOCK].now()
    claims = await request.app[LINKS].resolve(request.app[DB], token, now)
    if claims is None:
        raise web.HTTPNotFound()
    async with request.app[DB].connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        loaded = await tracking.load_shipment_and_rating(conn, claims.shipment_id)
        shipment, rating = loaded if loaded else (None, None)
        if (
            shipment is None
            or shipment.link_generation != claims.generation  # revoked since minted
            or delivered_long_ago(delivered_at(shipment.status, shipment.status_at), now)
        ):
            raise web.HTTPNotFound()
        events = await tracking.load_events(conn, shipment.id) if details else []
        chat = await load_chat_state(conn, shipment.id) if details else None
        proof, eta = None, None
        if details and shipment.status == Status.DELIVERED:
            # Relative links (same origin), short-lived: the page mints new ones on each view.
            proof = await proof_links.links_for_shipment(
                conn, shipment.id, "", now, now + proof_links.PAGE_TTL
            )
        elif details:
            eta = await driver_eta(conn, shipment.id)
    return Loaded(shipment, events, rating, now, proof, eta, chat)


def page_locale(request: web.Request, shipment: TrackedShipment) -> PageLocale:
    """The recipient's locale if the pages speak it, else the browser's, else English."""
    wanted = shipment.recipient.get("locale")
    if not supported(wanted):
        wanted = from_accept_language(request.headers.get("Accept-Language", "")) or wanted
    return PageLocale(wanted)


def view_of(request: web.Request, loaded: Loaded, notice: Notice | None = None) -> TrackingView:
    token = request.match_info["token"]
    given = PageInput(
        shipment=loaded.shipment,
        events=loaded.events,
        rating=loaded.rating,
        locale=page_locale(request, loaded.shipment),
        now=loaded.now,
        link_path=f"/t/{token}",
        driver_proof=loaded.driver_proof,
        driver_eta=loaded.driver_eta,
    )
    return build_view(given, notice)


async def tracking_page(request: web.Request) -> web.Response:
    if is_preview_fetch(request.headers):
        loaded = await load_link(request, details=False)
        locale = page_locale(request, loaded.shipment)
        html = render(
            "pages/preview.html.j2", lang=locale.lang, t=locale.t, store=loaded.shipment.store_name
        )
        return page_response(request, html)
    started = time.perf_counter()
    loaded = await load_link(request)
    if request.method == "GET":
        await _record_visit(request, loaded)
    response = await render_tracking_page(request, loaded)
    # Time spent building the page (benchmarks/tracking_page.py reports it).
    response.headers["Server-Timing"] = f"page;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


async def render_tracking_page(
    request: web.Request,
    loaded: Loaded,
    *,
    status: int = 200,
    chat_notice: ChatNotice | None = None,
    draft: str = "",
) -> web.Response:
    """The page for a loaded link; the chat form answers with it too (429, the text kept)."""
    token = request.match_info["token"]
    view = view_of(request, loaded, _notice(request))
    chat = None
    if loaded.chat is not None:
        chat = chat_view(
            loaded.chat.messages,
            can_write=loaded.chat.can_write,
            locale=view.locale,
            zone=ZoneInfo(view.timezone),
            post_url=f"/t/{token}/messages",
            notice=chat_notice or notice_of(request.query.get("chat")),
            draft=draft,
        )
    card = await _live_card(request, loaded, view)
    html = render(
        "pages/tracking.html.j2",
        v=view,
        t=view.locale.t,
        lang=view.locale.lang,
        status_url=f"/t/{token}/status",
        rating_url=f"/t/{token}/rating",
        live_url=f"/t/{token}/live",
        chat=chat,
        live=card,
    )
    headers = live_page_headers(card.tiles) if card else pages.PAGE_HEADERS
    return page_response(request, html, status=status, headers=headers)


async def _live_card(request: web.Request, loaded: Loaded, view: TrackingView) -> LiveCard | None:
    """The live card (map, ETA, driver line) for the store's own deliveries still under way."""
    shipment = loaded.shipment
    if shipment.carrier != OWN_FLEET or shipment.status == Status.DELIVERED:
        return None
    settings = request.app[SETTINGS]
    live = await live_state(
        request.app,
        shipment.id,
        locale=view.locale,
        zone=zone_or_utc(view.timezone),
        now=loaded.now,
    )
    return LiveCard(live, static_url(), settings.map_tiles_url, settings.map_tiles_attribution)


async def status_json(request: web.Request) -> dict[str, Any]:
    """`/status`'s body: the page's data plus the `live` object (the stream's `state` too).

    Raises HTTPNotFound when the link is no longer good (the stream then says `gone`)."""
    loaded = await load_link(request)
    view = view_of(request, loaded)
    body = view.to_json()
    body["live"] = await live_state(
        request.app,
        loaded.shipment.id,
        locale=view.locale,
        zone=zone_or_utc(view.timezone),
        now=loaded.now,
    )
    return body


async def tracking_status(request: web.Request) -> web.Response:
    """The page's data as JSON (for live updates); reading it is not an open."""
    return json_page_response(await status_json(request))


async def delivery_photo(request: web.Request) -> web.Response:
    """The proof-of-delivery photo when the carrier sent it inline (a data: URL)."""
    loaded = await load_link(request)
    photo = newest_inline_photo(loaded.events)
    if photo is None:
        raise web.HTTPNotFound()
    try:
        body = base64.b64decode(photo.data, validate=True)
    except (binascii.Error, ValueError):
        raise web.HTTPNotFound() from None
    return web.Response(body=body, content_type=f"image/{photo.subtype}", headers=PHOTO_HEADERS)


async def post_rating(request: web.Request) -> web.Response:
    """JSON `{"score", "comment"?}` → 201/200 JSON; the page's form → 303 back to the page."""
    refuse_cross_site(request)
    loaded = await load_link(request, details=False)
    if request.content_type in _FORM_TYPES:
        return await _rate_from_form(request, loaded)
    body = await read_body(request, RatingIn)
    given = RatingInput(body.score, clean_comment(body.comment), RatingSource.PAGE)
    try:
        rating, created = await _save(request, loaded, given)
    except RatingNotAllowed:
        raise ApiError(409, "not_delivered", "ratings open once the parcel is delivered") from None
    except RatingLocked:
        raise ApiError(409, "rating_locked", "the rating can only change for 24 hours") from None
    out = {
        "score": rating.score,
        "comment": rating.comment,
        "source": rating.source,
        "created_at": format_utc(rating.created_at),
        "updated_at": format_utc(rating.updated_at),
        "editable_until": format_utc(editable_until(rating.created_at)),
    }
    return json_page_response(out, status=201 if created else 200)


async def _rate_from_form(request: web.Request, loaded: Loaded) -> web.Response:
    form = await read_form(request)
    notice = Notice.THANKS
    try:
        body = RatingIn.model_validate(
            {"score": _int(form.get("score")), "comment": _text(form.get("comment"))}
        )
        given = RatingInput(body.score, clean_comment(body.comment), RatingSource.PAGE)
        await _save(request, loaded, given)
    except ValidationError:
        notice = Notice.INVALID
    except (RatingLocked, RatingNotAllowed):
        notice = Notice.LOCKED
    location = f"/t/{request.match_info['token']}?rating={notice.value}#rating"
    raise web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


async def _save(request: web.Request, loaded: Loaded, given: RatingInput) -> tuple[Rating, bool]:
    async with request.app[DB].begin() as conn:
        return await record_rating(conn, loaded.shipment, given, loaded.now)


async def _record_visit(request: web.Request, loaded: Loaded) -> None:
    """Count the customer's visit; a failure costs the statistic, never the page."""
    if not tracking.is_new_visit(loaded.shipment.last_opened_at, loaded.now):
        return  # a reload: nothing to write
    try:
        async with request.app[DB].begin() as conn:
            await tracking.record_open(conn, loaded.shipment.id, loaded.now)
    except SQLAlchemyError as exc:
        log.warning(
            "tracking page open not recorded for %s: %s", loaded.shipment.id, type(exc).__name__
        )


def refuse_cross_site(request: web.Request) -> None:
    """CSRF for the page's forms (rating, message to the driver): the token is the capability; a
    browser telling us another site sent the request is refused.

    The page's own form arrives with `Origin: null` (its Referrer-Policy is no-referrer), so a
    null origin is let through; `Sec-Fetch-Site` still tells cross-site posts apart.
    """
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise ApiError(403, "cross_site_request", "only accepted from the tracking page")
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return
    public = urlsplit(request.app[SETTINGS].public_url)
    allowed = {f"{public.scheme}://{public.netloc}", f"{request.scheme}://{request.host}"}
    if origin.rstrip("/") not in allowed:
        raise ApiError(403, "cross_site_request", "only accepted from the tracking page")


def _notice(request: web.Request) -> Notice | None:
    try:
        return Notice(request.query.get("rating", ""))
    except ValueError:
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# The customer's pages; the token in the path is the capability.
PAGE_ROUTES: Final = (
    web.get("/t/{token}", tracking_page),  # also answers HEAD, read-only
    web.get("/t/{token}/status", tracking_status),
    web.get("/t/{token}/photo", delivery_photo),
    web.post("/t/{token}/rating", post_rating),
)


async def prepare_pages(app: web.Application) -> None:
    """Start-up: compile the page templates and hold one link resolver (its caches) per process."""
    pages.warm_up()
    app[LINKS] = LinkResolver()
