"""A store's webhook receiver for trying the gateway out: verifies each delivery and prints it.

    WEBHOOK_SECRET=whsec_... uv run python docs/examples/receive_store_webhooks.py [PORT]

It checks the Standard Webhooks signature with the official `standardwebhooks` library (any
Standard Webhooks library does), answers 204 to a good delivery and 401 to anything else, and
prints one line per delivery. Ctrl-C (or `kill`) stops it.
"""

from __future__ import annotations

import json
import os
import sys

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        payload = request.app[VERIFIER].verify(body, dict(request.headers))
    except WebhookVerificationError:
        print("refused: the signature does not verify", flush=True)
        return web.Response(status=401)
    data = payload.get("data", {})
    print(
        f"store webhook {payload['type']} (signature ok, id {request.headers['webhook-id']}): "
        + json.dumps(
            {k: data.get(k) for k in ("tracking_number", "status", "channel") if k in data}
        ),
        flush=True,
    )
    return web.Response(status=204)


VERIFIER = web.AppKey("verifier", Webhook)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    app = web.Application()
    app[VERIFIER] = Webhook(os.environ["WEBHOOK_SECRET"])
    app.router.add_post("/", receive)
    print(f"receiving store webhooks on http://127.0.0.1:{port}/", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
