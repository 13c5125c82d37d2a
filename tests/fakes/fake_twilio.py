"""A fake Twilio Messages API: Basic auth, form bodies, Twilio's JSON errors, magic numbers.

Magic recipients (the To number's last four digits) pick a failure:
0429 → 429 (code 20429, Retry-After), 0500 → 500 (code 20500), 1211 → 400 code 21211 (invalid
number), 1610 → 400 code 21610 (unsubscribed), 1614 → 400 code 21614 (not a mobile number).
0408 → the message is accepted (recorded, as Twilio would send it) but the answer comes only
after `stall_s`: the client times out not knowing whether the SMS went out.
`fail_next(n)` answers the next n authenticated requests with a 500, whatever their recipient.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

MAGIC_ERRORS: dict[str, tuple[int, int, str]] = {
    "0429": (429, 20429, "Too Many Requests"),
    "0500": (500, 20500, "Internal Server Error"),
    "1211": (400, 21211, "The 'To' number {to} is not a valid phone number."),
    "1610": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "1614": (400, 21614, "'To' number {to} is not a valid mobile number"),
}
MAX_BODY_CHARS = 1600
STALL_SUFFIX = "0408"


@dataclass(frozen=True)
class TwilioRequest:
    """An accepted Messages.json request, as the fake received it."""

    sid: str
    account_sid: str
    auth_user: str
    auth_password: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    form: dict[str, str]


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "twilio-test-token"
    retry_after_s: int = 7
    latency_s: float = 0.0
    stall_s: float = 30.0  # how long a "0408" recipient's answer takes
    requests: list[TwilioRequest] = field(default_factory=list)
    attempts: int = 0  # every authenticated request, failed ones included
    _fail_next: int = 0
    _fail_status: int = 500

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` authenticated requests with `status` (Twilio's error shape)."""
        self._fail_next, self._fail_status = count, status

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        return app

    async def _create_message(self, request: web.Request) -> web.Response:
        credentials = _basic_auth(request.headers.get("Authorization", ""))
        sid = request.match_info["sid"]
        if credentials != (self.account_sid, self.auth_token) or sid != self.account_sid:
            return _error(401, 20003, "Authenticate")
        self.attempts += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self._fail_next > 0:
            self._fail_next -= 1
            return _error(self._fail_status, 20000 + self._fail_status, "Service unavailable")
        form = {key: str(value) for key, value in (await request.post()).items()}
        problem = self._validate(form)
        if problem is not None:
            return problem
        response = self._accept(sid, credentials, form)
        if form["To"].endswith(STALL_SUFFIX):
            await asyncio.sleep(self.stall_s)
        return response

    def _validate(self, form: dict[str, str]) -> web.Response | None:
        to = form.get("To", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > MAX_BODY_CHARS:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 limit.")
        magic = MAGIC_ERRORS.get(to[-4:])
        if magic is not None:
            status, code, message = magic
            headers = {"Retry-After": str(self.retry_after_s)} if status == 429 else None
            return _error(status, code, message.format(to=to), headers=headers)
        return None

    def _accept(self, sid: str, credentials: tuple[str, str], form: dict[str, str]) -> web.Response:
        message_sid = "SM" + secrets.token_hex(16)
        self.requests.append(
            TwilioRequest(
                sid=message_sid,
                account_sid=sid,
                auth_user=credentials[0],
                auth_password=credentials[1],
                to=form["To"],
                from_=form.get("From", ""),
                body=form.get("Body", ""),
                status_callback=form.get("StatusCallback"),
                form=form,
            )
        )
        return web.json_response(_message_json(sid, message_sid, form), status=201)


def _message_json(account_sid: str, message_sid: str, form: dict[str, str]) -> dict[str, Any]:
    now = format_datetime(datetime.now(UTC), usegmt=True)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}.json"
    return {
        "sid": message_sid,
        "account_sid": account_sid,
        "to": form["To"],
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "body": form.get("Body", ""),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "num_media": "0",
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "date_sent": None,
        "uri": uri,
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
    }


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _error(
    status: int, code: int, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)
