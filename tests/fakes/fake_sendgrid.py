"""A fake SendGrid v3 Mail Send API: bearer auth, the v3 JSON shape, 202 + X-Message-Id.

Magic recipients (a `+tag` in the first `to` address) pick a failure: `name+400@…` → 400 with
`errors`, `name+429@…` → 429 with Retry-After, `name+500@…` → 500.
`fail_next(n)` answers the next n authenticated requests with a 500.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAGIC_STATUS = {"+400": 400, "+429": 429, "+500": 500}


@dataclass(frozen=True)
class SendGridRequest:
    """An accepted mail/send request."""

    message_id: str
    authorization: str
    to: list[str]
    from_email: str
    from_name: str | None
    subject: str
    text: str
    html: str | None
    custom_args: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSendGrid:
    api_key: str = "SG.test-key"
    retry_after_s: int = 11
    latency_s: float = 0.0
    requests: list[SendGridRequest] = field(default_factory=list)
    attempts: int = 0
    _fail_next: int = 0

    def fail_next(self, count: int) -> None:
        self._fail_next = count

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/mail/send", self._send)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        if authorization != f"Bearer {self.api_key}":
            return _errors(401, "The provided authorization grant is invalid, expired, or revoked")
        self.attempts += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self._fail_next > 0:
            self._fail_next -= 1
            return _errors(500, "Internal server error")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _errors(400, "Bad Request", field=None)
        problem = validate_mail(body)
        if problem is not None:
            return _errors(400, problem[1], field=problem[0])
        magic = self._magic(body)
        if magic is not None:
            return magic
        return self._accept(authorization, body)

    def _magic(self, body: dict[str, Any]) -> web.Response | None:
        first = str(body["personalizations"][0]["to"][0]["email"])
        local = first.partition("@")[0]
        for tag, status in MAGIC_STATUS.items():
            if local.endswith(tag):
                if status == 429:
                    headers = {"Retry-After": str(self.retry_after_s)}
                    return _errors(429, "too many requests", headers=headers)
                if status == 400:
                    return _errors(400, "Does not contain a valid address.", field="to.email")
                return _errors(status, "Internal server error")
        return None

    def _accept(self, authorization: str, body: dict[str, Any]) -> web.Response:
        message_id = secrets.token_urlsafe(16)
        content = {part["type"]: part["value"] for part in body["content"]}
        personalization = body["personalizations"][0]
        self.requests.append(
            SendGridRequest(
                message_id=message_id,
                authorization=authorization,
                to=[str(to["email"]) for to in personalization["to"]],
                from_email=str(body["from"]["email"]),
                from_name=body["from"].get("name"),
                subject=str(personalization.get("subject") or body.get("subject")),
                text=content["text/plain"],
                html=content.get("text/html"),
                custom_args=dict(body.get("custom_args") or {}),
                body=body,
            )
        )
        return web.Response(status=202, headers={"X-Message-Id": message_id})


def validate_mail(body: Any) -> tuple[str | None, str] | None:
    """(field, message) of the first problem, like SendGrid's 400 `errors`; None when valid."""
    if not isinstance(body, dict):
        return None, "Bad Request"
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return "personalizations", "The personalizations field is required."
    for item in personalizations:
        to = item.get("to") if isinstance(item, dict) else None
        if not isinstance(to, list) or not to or not all("@" in str(t.get("email")) for t in to):
            return "personalizations.0.to", "The to array is required for all personalization."
    if not isinstance(body.get("from"), dict) or "@" not in str(body["from"].get("email")):
        return "from.email", "The from object must be provided for every email send."
    if not body.get("subject") and not all(p.get("subject") for p in personalizations):
        return "subject", "The subject is required."
    return _validate_content(body.get("content"))


def _validate_content(content: Any) -> tuple[str | None, str] | None:
    if not isinstance(content, list) or not content:
        return "content", "The content field is required."
    if not all(isinstance(part, dict) and part.get("type") for part in content):
        return "content.0.type", "The content type is required."
    types = [part["type"] for part in content]
    if any(not isinstance(part.get("value"), str) or not part["value"] for part in content):
        return "content.0.value", "The content value must be a string at least one character."
    if "text/plain" in types and types[0] != "text/plain":
        return "content.0.type", "The text/plain content type must be first."
    if "text/html" in types and "text/plain" in types and types.index("text/html") != 1:
        return "content.1.type", "The text/html content type must follow text/plain."
    return None


def _errors(
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"errors": [{"message": message, "field": field, "help": None}]}
    return web.json_response(body, status=status, headers=headers)
