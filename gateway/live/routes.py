"""The customer's live stream: `GET /t/{token}/live` (Server-Sent Events).

The link in the path is the capability, exactly as for the page: a bad, expired or revoked
link gets the one 404 page before the stream starts, and ends an open stream with `gone`
(a revocation is published by DELETE /v1/shipments/{id}/tracking-link; the link is also
checked again every `recheck_s`, which catches expiry). gateway/live/stream.py holds the rest.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.live.static_files import ROUTES as STATIC_ROUTES
from gateway.live.stream import live_stream
from gateway.tracking.routes import load_link, page_locale, status_json


async def tracking_live(request: web.Request) -> web.StreamResponse:
    loaded = await load_link(request, details=False)  # the 404 page for a dead link

    async def current_state() -> dict[str, Any]:
        return await status_json(request)

    async def still_valid() -> bool:
        try:
            await load_link(request, details=False)
        except web.HTTPNotFound:
            return False
        return True

    locale = page_locale(request, loaded.shipment)
    return await live_stream(
        request, loaded.shipment.id, current_state, still_valid, gone_text=locale.t("live.gone")
    )


# The customer's stream; the token in the path is the capability.
PAGE_ROUTES: Final = (web.get("/t/{token}/live", tracking_live, allow_head=False),)
ROUTES: Final = (*PAGE_ROUTES, *STATIC_ROUTES)
