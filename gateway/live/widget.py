"""The embeddable widget: `/widget.js`, `/widget/{token}/status`, `/widget/{token}/live`.

The widget token is the capability, and it is good for one origin: the widget's requests are
answered with CORS for that origin only (`Access-Control-Allow-Origin: <origin>`, `Vary: Origin`,
never credentials). Anything else (another origin, no Origin at all, an unknown or expired token)
is a 401 with an empty body: another origin gets nothing of the shipment, not even whether the
token exists. The refusal still carries `Access-Control-Allow-Origin: <the request's Origin>`,
so the widget can read the status and say "not available" rather than "can't be reached".
A token whose shipment's links were revoked, or delivered 30+ days ago, answers 404 (empty).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from aiohttp.web import ContentCoding

from gateway.live import static_files, widget_load
from gateway.live import store_widget_tokens as token_store
from gateway.live.store_widget_tokens import WidgetGrant
from gateway.live.stream import LinkGone, live_stream
from gateway.platform.appkeys import CLOCK, DB
from gateway.platform.db import READ_ONLY
from gateway.tracking.routes import page_locale

WIDGET_JS_HEADERS: Final = {
    # A fixed URL (the embed snippet's): a new version must reach pages within minutes.
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",  # loaded by store pages
    "Vary": "Accept-Encoding",
}
# Every widget answer: per viewer, never cached, and different per asking origin.
_BASE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Origin",
}


async def widget_js(request: web.Request) -> web.Response:
    """static/widget.js under the contract's fixed URL: the bytes (and gzip) static files hold."""
    found = static_files.load()  # read and compressed at start-up (prepare_static)
    asset = found.files["widget.js"]
    etag = f'"{found.version}"'  # changes with any static file; good enough for a 5-minute cache
    headers = {**WIDGET_JS_HEADERS, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        body = asset.gzipped
    return web.Response(body=body, content_type=asset.content_type, headers=headers)


def refusal(request: web.Request, status: int) -> web.Response:
    """An empty answer the asking page may read (only its status): 401, 404."""
    headers = dict(_BASE_HEADERS)
    asking = request.headers.get("Origin")
    if asking:
        headers["Access-Control-Allow-Origin"] = asking
    return web.Response(status=status, headers=headers)


def cors_headers(origin: str) -> dict[str, str]:
    """What an answer for the token's own origin carries (no credentials: the widget sends none)."""
    return {**_BASE_HEADERS, "Access-Control-Allow-Origin": origin}


async def grant_for(request: web.Request) -> WidgetGrant | None:
    """The token's grant if the request comes from the token's origin, else None."""
    token, now = request.match_info["token"], request.app[CLOCK].now()
    async with request.app[DB].connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        grant = await token_store.lookup(conn, token, now)
    if grant is None or request.headers.get("Origin") != grant.origin:
        return None
    return grant


async def widget_status(request: web.Request) -> web.Response:
    """The status JSON for the widget: the page's, minus contact and proof, plus live and assets."""
    grant = await grant_for(request)
    if grant is None:
        return refusal(request, 401)
    try:
        body = await widget_load.state_json(request, grant)
    except LinkGone:
        return refusal(request, 404)
    response = web.json_response(body, headers=cors_headers(grant.origin))
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(ContentCoding.gzip)
    return response


async def widget_live(request: web.Request) -> web.StreamResponse:
    """The widget's Server-Sent Events: the tracking page's stream, fenced to the token's origin."""
    grant = await grant_for(request)
    if grant is None:
        return refusal(request, 401)
    token, engine, now = request.match_info["token"], request.app[DB], request.app[CLOCK].now()
    shipment = await widget_load.shipment_of(engine, grant, now)
    if shipment is None:
        return refusal(request, 404)

    async def current_state() -> dict[str, Any]:
        return await widget_load.state_json(request, grant)

    async def still_valid() -> bool:
        return await widget_load.still_open(engine, token, request.app[CLOCK].now())

    try:
        return await live_stream(
            request,
            grant.shipment_id,
            current_state,
            still_valid,
            headers=cors_headers(grant.origin),
            gone_text=page_locale(request, shipment).t("live.gone"),
        )
    except LinkGone:  # gone between the check and the stream's first state
        return refusal(request, 404)


# Public: the token in the path is the capability, the Origin header its fence.
WIDGET_ROUTES: Final = (
    web.get("/widget.js", widget_js),
    web.get("/widget/{token}/status", widget_status),
    web.get("/widget/{token}/live", widget_live, allow_head=False),
)
