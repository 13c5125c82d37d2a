"""Provider callbacks: inbound SMS (STOP/START/HELP, replies), Twilio and SendGrid delivery reports.

Every request is verified before anything is read into the database: Twilio's
`X-Twilio-Signature` against the exact public URL (LASTMILE_PUBLIC_URL + path and query) and
the auth token, SendGrid's ECDSA signature against SENDGRID_WEBHOOK_PUBLIC_KEY. A request that
fails answers 403 and changes nothing. Phone numbers are never logged.

Each callback is applied once, by the provider's id (gateway/notifications/store_callbacks.py):
a replayed inbound `START` does not re-subscribe, a replayed report or event changes nothing.
"""

from __future__ import annotations

import binascii
import json
import logging
from typing import Final

from aiohttp import web
from multidict import MultiDict
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy.ext.asyncio import AsyncConnection
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import PermanentSendError
from gateway.domain.text import clean_text
from gateway.notifications import outcome, store
from gateway.notifications.keywords import answer_keyword
from gateway.notifications.rules import ChannelKind, NotificationStatus
from gateway.notifications.store import Notification
from gateway.notifications.store_callbacks import Callback, first_delivery
from gateway.platform.appkeys import DB, SETTINGS
from gateway.platform.http.edge import read_bytes, read_form
from gateway.platform.http.errors import ApiError

log = logging.getLogger(__name__)

TWILIO_UNSUBSCRIBED: Final = "21610"
MAX_EVENTS: Final = 1000
_TWILIO_REPORTS: Final = {
    "sent": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "undelivered": NotificationStatus.FAILED,
    "failed": NotificationStatus.FAILED,
}
_SENDGRID_REPORTS: Final = {
    "processed": NotificationStatus.SENT,
    "delivered": NotificationStatus.DELIVERED,
    "bounce": NotificationStatus.FAILED,
    "dropped": NotificationStatus.FAILED,
}


def _forbidden() -> ApiError:
    return ApiError(403, "invalid_signature", "the request signature does not verify")


async def _twilio_form(request: web.Request) -> MultiDict[str]:
    """The POSTed form, once X-Twilio-Signature verifies for the exact public URL."""
    settings = request.app[SETTINGS]
    form = await read_form(request)
    params = MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
    signature = request.headers.get("X-Twilio-Signature", "")
    token = settings.twilio_auth_token
    url = settings.public_url + request.path_qs
    if token is None or not signature:
        raise _forbidden()
    if not RequestValidator(token.get_secret_value()).validate(url, params, signature):
        raise _forbidden()
    return MultiDict((k, clean_text(v)) for k, v in params.items())  # signed, still no NUL


def _twiml(text: str | None) -> web.Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return web.Response(text=str(response), content_type="text/xml")


async def twilio_sms(request: web.Request) -> web.Response:
    """An SMS to our number: carrier keywords, else the first inbound handler that claims it."""
    form = await _twilio_form(request)
    sid = form.get("MessageSid", "")
    async with request.app[DB].begin() as conn:
        if sid and not await first_delivery(conn, Callback.TWILIO_SMS, sid):
            log.info("inbound SMS %s was handled already: replay ignored", sid)
            return _twiml(None)
        reply = await answer_keyword(
            conn,
            from_number=form.get("From", ""),
            to_number=form.get("To", ""),
            body=form.get("Body", ""),
            message_sid=form.get("MessageSid", ""),
        )
    return _twiml(reply)


async def twilio_status(request: web.Request) -> web.Response:
    """Twilio's delivery report for a message we sent (`?n=` names our notification)."""
    form = await _twilio_form(request)
    status = _TWILIO_REPORTS.get(form.get("MessageStatus", ""))
    sid = form.get("MessageSid", "")
    if status is None or not sid:
        return web.Response(status=204)
    code = form.get("ErrorCode") or None
    reason = f"twilio_{code}" if code else f"twilio_{form.get('MessageStatus')}"
    async with request.app[DB].begin() as conn:
        key = f"{sid}:{form.get('MessageStatus')}"
        if not await first_delivery(conn, Callback.TWILIO_STATUS, key):
            return web.Response(status=204)
        row = await _find(conn, request.query.get("n"), sid)
        if row is not None and row.channel is ChannelKind.SMS:
            error = PermanentSendError(reason, unsubscribed=code == TWILIO_UNSUBSCRIBED)
            await outcome.report(conn, row, status, reason=reason, provider_id=sid, error=error)
    return web.Response(status=204)


async def _find(
    conn: AsyncConnection, notification_id: str | None, provider_id: str
) -> Notification | None:
    if notification_id:  # inside the signed URL or custom args: the provider vouches for it
        return await store.get(conn, notification_id, lock=True)
    return await store.find_by_provider_id(conn, provider_id) if provider_id else None


def _sendgrid_verified(request: web.Request, body: bytes) -> bool:
    key = request.app[SETTINGS].sendgrid_webhook_public_key
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not key or not signature or not timestamp:
        return False
    try:
        verifier = EventWebhook(key)
    except ValueError:
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key")
        return False
    try:
        return bool(verifier.verify_signature(body.decode("utf-8"), signature, timestamp))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return False


async def sendgrid_events(request: web.Request) -> web.Response:
    """SendGrid's event webhook: delivered, bounce, dropped... for the emails we sent."""
    body = await read_bytes(request)
    if not _sendgrid_verified(request, body):
        raise _forbidden()
    try:
        events = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise ApiError(400, "bad_request", f"expected a JSON array of up to {MAX_EVENTS} events")
    applied = 0
    async with request.app[DB].begin() as conn:
        for event in events:
            applied += await _sendgrid_event(conn, event)
    return web.json_response({"applied": applied})


async def _sendgrid_event(conn: AsyncConnection, event: object) -> int:
    if not isinstance(event, dict):
        return 0
    status = _SENDGRID_REPORTS.get(str(event.get("event", "")))
    message_id = clean_text(str(event.get("sg_message_id") or "")).split(".")[0]
    notification_id = clean_text(str(event.get("notification_id") or ""))
    if status is None or not (notification_id or message_id):
        return 0
    event_id = clean_text(str(event.get("sg_event_id") or ""))
    if event_id and not await first_delivery(conn, Callback.SENDGRID_EVENT, event_id):
        return 0
    row = await _find(conn, notification_id or None, message_id)
    if row is None or row.channel is not ChannelKind.EMAIL:
        return 0
    reason = f"sendgrid_{event.get('event')}" if status is NotificationStatus.FAILED else None
    changed = await outcome.report(conn, row, status, reason=reason, provider_id=message_id)
    return int(changed)


# Provider callbacks: every request is verified before anything is read into the database.
ROUTES: Final = (
    web.post("/callbacks/twilio/sms", twilio_sms),
    web.post("/callbacks/twilio/status", twilio_status),
    web.post("/callbacks/sendgrid/events", sendgrid_events),
)
