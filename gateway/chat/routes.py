"""Chat over HTTP: the page's message form, the driver app's thread, the store's view of it.

- `POST /t/{token}/messages` (customer; the link is the capability, Origin checked as for the
  rating form): a form answers with the page again, JSON with the message.
- `GET/POST /v1/driver/messages` (driver token): the threads of the driver's next and reached
  stops, and an answer to one of them.
- `GET /v1/shipments/{id}/messages` and `PUT /v1/drivers/{id}/chat` (API key): the thread as the
  store sees it, and whether a driver also gets customers' messages by SMS.

Too many messages from one side answer 429 with Retry-After (the form: the page, 429, the text
kept). No answer ever carries a phone number.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web

from gateway.chat import store as chat_store
from gateway.chat.page import ChatNotice
from gateway.chat.relay import ChatClosed, RateLimited, customer_writes, driver_writes
from gateway.chat.relay import message_json as as_json
from gateway.chat.rules import MAX_TEXT_CHARS, EmptyMessage, Via
from gateway.chat.schemas import (
    DriverChatIn,
    DriverChatOut,
    DriverMessageIn,
    DriverThreadsOut,
    MessageOut,
    MessagesOut,
    PageMessageIn,
    ThreadOut,
)
from gateway.chat.stops import open_stops_of_driver, stop_for_shipment
from gateway.chat.store import Message
from gateway.drivers import store as driver_store
from gateway.drivers.auth import driver_claims, require_driver
from gateway.platform.appkeys import CLOCK, DB, REDIS, RELAY
from gateway.platform.http.edge import read_form
from gateway.platform.http.errors import ApiError, error_response, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.outbox import PendingJob, collect_added_jobs
from gateway.platform.relay import hand_over
from gateway.shipments import store as shipment_store
from gateway.tenants.auth import require_tenant
from gateway.tracking.pages import json_page_response
from gateway.tracking.routes import Loaded, load_link, refuse_cross_site, render_tracking_page
from gateway.tracking.store import load_shipment

log = logging.getLogger(__name__)

TAG = "chat"
_FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


def _too_fast(retry_after_s: int) -> web.Response:
    response = error_response(
        429, "rate_limited", f"too many messages; try again in {retry_after_s} seconds"
    )
    response.headers["Retry-After"] = str(retry_after_s)
    return response


def _closed() -> ApiError:
    return ApiError(409, "chat_closed", "messages reach the driver only while the stop is next")


async def _hand_over(request: web.Request, jobs: list[PendingJob]) -> None:
    """The relay SMS job to arq now; if that fails the outbox relay moves it (committed)."""
    try:
        await hand_over(request.app[DB], request.app[REDIS], jobs)
    except Exception as exc:
        log.warning("chat hand-over failed (%s); left to the relay", type(exc).__name__)
        request.app[RELAY].wake()


async def post_page_message(request: web.Request) -> web.StreamResponse:
    """The customer's message from the tracking page (form or JSON `{"text"}`)."""
    refuse_cross_site(request)
    loaded = await load_link(request, details=False)
    form = request.content_type in _FORM_TYPES
    text = await _posted_text(request, form)
    try:
        message = await _from_page(request, loaded, text)
    except (EmptyMessage, ChatClosed, RateLimited) as refused:
        return await _page_refused(request, refused, form, text)
    if form:
        raise _back_to_page(request, ChatNotice.SENT)
    return json_page_response(as_json(message), status=201)


async def _posted_text(request: web.Request, form: bool) -> str:
    if not form:
        return (await read_body(request, PageMessageIn)).text
    text = (await read_form(request)).get("text")
    return text if isinstance(text, str) else ""


async def _from_page(request: web.Request, loaded: Loaded, text: str) -> Message:
    with collect_added_jobs() as jobs:
        async with request.app[DB].begin() as conn:
            stop = await stop_for_shipment(conn, loaded.shipment.id)
            message = await customer_writes(conn, loaded.shipment, stop, text, Via.PAGE, loaded.now)
    await _hand_over(request, jobs)
    return message


async def _page_refused(
    request: web.Request, refused: Exception, form: bool, text: str
) -> web.Response:
    """The form gets the page back (429: with the text kept); JSON gets the error."""
    if isinstance(refused, RateLimited):
        if form:
            return await _page_too_fast(request, text[:MAX_TEXT_CHARS], refused.retry_after_s)
        return _too_fast(refused.retry_after_s)
    if form:
        notice = ChatNotice.EMPTY if isinstance(refused, EmptyMessage) else ChatNotice.CLOSED
        raise _back_to_page(request, notice)
    if isinstance(refused, EmptyMessage):
        raise ApiError(422, "validation_error", "text: must not be empty")
    raise _closed()


def _back_to_page(request: web.Request, notice: ChatNotice) -> web.HTTPSeeOther:
    location = f"/t/{request.match_info['token']}?chat={notice.value}#chat"
    return web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


async def _page_too_fast(request: web.Request, draft: str, retry_after_s: int) -> web.Response:
    loaded: Loaded = await load_link(request)
    response = await render_tracking_page(
        request, loaded, status=429, chat_notice=ChatNotice.SLOW, draft=draft
    )
    response.headers["Retry-After"] = str(retry_after_s)
    return response


async def driver_threads(request: web.Request) -> web.Response:
    """The threads of the driver's next and reached stops, oldest message first."""
    claims = await driver_claims(request)
    async with request.app[DB].begin() as conn:
        driver = await require_driver(conn, claims)
        stops = await open_stops_of_driver(conn, driver.id)
        ids = [stop.shipment_id for stop in stops]
        messages = await chat_store.threads_after(conn, ids, 0)
    threads = [
        ThreadOut(
            shipment_id=stop.shipment_id,
            stop_state=stop.state,
            messages=[
                MessageOut(**as_json(m)) for m in messages if m.shipment_id == stop.shipment_id
            ],
        )
        for stop in stops
    ]
    return web.json_response(DriverThreadsOut(threads=threads).model_dump(mode="json"))


async def post_driver_message(request: web.Request) -> web.Response:
    """The driver's answer to the customer of one of their stops."""
    claims = await driver_claims(request)
    body = await read_body(request, DriverMessageIn)
    now = request.app[CLOCK].now()
    try:
        with collect_added_jobs() as jobs:
            async with request.app[DB].begin() as conn:
                driver = await require_driver(conn, claims)
                stop = await stop_for_shipment(conn, body.shipment_id, driver.id)
                shipment = await load_shipment(conn, body.shipment_id) if stop else None
                if stop is None or shipment is None or shipment.tenant_id != driver.tenant_id:
                    raise not_found("stop")
                message = await driver_writes(conn, shipment, stop, body.text, Via.APP, now)
    except EmptyMessage:
        raise ApiError(422, "validation_error", "text: must not be empty") from None
    except ChatClosed:
        raise _closed() from None
    except RateLimited as exc:
        return _too_fast(exc.retry_after_s)
    await _hand_over(request, jobs)
    return web.json_response(MessageOut(**as_json(message)).model_dump(mode="json"), status=201)


async def shipment_messages(request: web.Request) -> web.Response:
    """The shipment's thread as the store sees it (no numbers)."""
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        if await shipment_store.get(conn, tenant_id, request.match_info["id"]) is None:
            raise not_found("shipment")
        messages = await chat_store.thread(conn, request.match_info["id"])
    out = MessagesOut(messages=[MessageOut(**as_json(m)) for m in messages])
    return web.json_response(out.model_dump(mode="json"))


async def put_driver_chat(request: web.Request) -> web.Response:
    """Whether the driver also gets customers' messages by SMS (always in the app)."""
    tenant_id = await require_tenant(request)
    body = await read_body(request, DriverChatIn)
    driver_id = request.match_info["id"]
    async with request.app[DB].begin() as conn:
        if await driver_store.get(conn, tenant_id, driver_id) is None:
            raise not_found("driver")
        await chat_store.set_driver_sms(
            conn, tenant_id, driver_id, body.sms, request.app[CLOCK].now()
        )
    return web.json_response(DriverChatOut(driver_id=driver_id, sms=body.sms).model_dump())


# The customer's form; the link in the path is the capability.
PAGE_ROUTES: Final = (web.post("/t/{token}/messages", post_page_message),)

# The driver app's operations (driver token).
DRIVER_API: Final = (
    Operation(
        "GET",
        "/v1/driver/messages",
        driver_threads,
        summary="The masked threads with the customers of the driver's next and reached stops",
        tag="driver app",
        response=DriverThreadsOut,
    ),
    Operation(
        "POST",
        "/v1/driver/messages",
        post_driver_message,
        summary="Answer the customer of one of the driver's stops (429 when too fast)",
        tag="driver app",
        body=DriverMessageIn,
        response=MessageOut,
        status=201,
        errors=(404, 409, 429),  # not their stop; not the next stop; too many messages
    ),
)

# The store's operations (API key).
API: Final = (
    Operation(
        "GET",
        "/v1/shipments/{id}/messages",
        shipment_messages,
        summary="The customer-driver thread of the shipment (no phone numbers)",
        tag=TAG,
        response=MessagesOut,
    ),
    Operation(
        "PUT",
        "/v1/drivers/{id}/chat",
        put_driver_chat,
        summary="Whether the driver also gets customers' messages by SMS",
        tag=TAG,
        body=DriverChatIn,
        response=DriverChatOut,
    ),
)
