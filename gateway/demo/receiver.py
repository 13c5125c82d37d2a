"""The demo store's webhook endpoint: receives the gateway's store webhooks and prints them.

It checks each delivery's Standard Webhooks signature with the endpoint's secret, as a store
would (a store uses any Standard Webhooks library; the demo uses the gateway's own signer).
"""

from __future__ import annotations

import hmac
import json
from typing import Final

from aiohttp import web

from gateway.demo.console import say
from gateway.platform.http.query import is_ascii_digits
from gateway.store_webhooks.signing import sign

PATH: Final = "/demo/store-webhook"
SECRET: Final = web.AppKey("demo_store_webhook_secret", str)


async def receive(request: web.Request) -> web.Response:
    body = await request.text()
    message_id = request.headers.get("webhook-id", "")
    stamp = request.headers.get("webhook-timestamp", "")
    given = request.headers.get("webhook-signature", "").split()
    secret = request.app.get(SECRET)
    if secret is None or not is_ascii_digits(stamp):
        return web.Response(status=401)
    expected = sign(secret, message_id, int(stamp), body)
    if not any(hmac.compare_digest(expected, signature) for signature in given):
        say("  ⚠ store webhook with a bad signature: refused")
        return web.Response(status=401)
    say(f"  ⇢ store webhook delivered, signature ok: {_summary(body)}")
    return web.Response(status=204)


def _summary(body: str) -> str:
    try:
        payload = json.loads(body)
        data = payload.get("data") or {}
    except (ValueError, AttributeError):
        return "(unreadable body)"
    kind = payload.get("type", "?")
    if kind == "shipment.status_changed":
        return f"{kind} {data.get('tracking_number')} is now {data.get('status')}"
    if kind.startswith("notification."):
        return f"{kind} ({data.get('channel')}, {data.get('event')})"
    return str(kind)
