"""HTML pages for customers: the pages' Jinja2 environment, the inline CSS and its CSP, the 404.

Every page carries the same protective headers. The stylesheet is inlined (one round trip on a
phone) and allowed by its sha256 in `style-src`; no script may run at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web import ContentCoding
from markupsafe import Markup

from gateway.platform.templates import file_environment, template_dir
from gateway.tracking.page_text import TEXT, PageLocale

CUSTOMER_PREFIX: Final = "/t/"
# Above this many bytes aiohttp compresses in a thread; a page is well below and compresses in
# ~0.1 ms, cheaper than the hop to a thread.
_SYNC_COMPRESS_BYTES: Final = 256 * 1024

_ENV: Final = file_environment()  # the pages' own: every page is .html.j2, so autoescaped


def _minify(css: str) -> str:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};,>])\s*", r"\1", css).replace(";}", "}").strip()


CSS: Final = _minify((template_dir() / "pages" / "tracking.css").read_text(encoding="utf-8"))
_CSS_HASH: Final = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; "
    f"style-src 'sha256-{_CSS_HASH}'; "
    "img-src 'self' data: https:; "
    "form-action 'self'; "
    "base-uri 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@cache
def live_page_headers(tile_url: str) -> dict[str, str]:
    """The headers of a page with the live card: its scripts and stylesheets from this gateway
    (gateway/live/static/), its stream and status from here, its map tiles from the tile host.
    Still no inline script and no eval."""
    parts = urlsplit(tile_url)
    tile_host = f" {parts.scheme}://{parts.netloc}" if parts.scheme == "http" else ""
    policy = (
        "default-src 'none'; "
        "script-src 'self'; "
        f"style-src 'self' 'sha256-{_CSS_HASH}'; "
        f"img-src 'self' data: https:{tile_host}; "  # https: also the carriers' delivery photos
        "connect-src 'self'; "
        "form-action 'self'; "
        "base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return {**PAGE_HEADERS, "Content-Security-Policy": policy}


PAGE_TEMPLATES: Final = (
    "pages/tracking.html.j2",
    "pages/preview.html.j2",
    "pages/not_found.html.j2",
)


def warm_up() -> None:
    """Compile the templates and load each language's CLDR data now, at start-up, rather than
    on a customer's first request (and before `lastmile serve` freezes the startup heap)."""
    for name in PAGE_TEMPLATES:
        _ENV.get_template(name)
    for lang in TEXT:
        locale = PageLocale(lang)
        locale.day(datetime.now(UTC))
        locale.time(datetime.now(UTC))
    _not_found_html()


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(css=Markup(CSS), **context)  # noqa: S704 - our file


def page_response(
    request: web.Request,
    html: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] = PAGE_HEADERS,
) -> web.Response:
    """An HTML response with the page headers, gzip-compressed when the client accepts it."""
    response = web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers=headers,
        zlib_executor_size=_SYNC_COMPRESS_BYTES,
    )
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(ContentCoding.gzip)  # aiohttp would pick deflate first
    return response


def json_page_response(data: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=PAGE_HEADERS)


@cache
def _not_found_html() -> str:
    return render("pages/not_found.html.j2", lang="en", en=TEXT["en"], es=TEXT["es"])


def not_found_page(request: web.Request) -> web.Response:
    """The one 404 of customer pages: the same bytes for a bad, an expired or a revoked link."""
    return page_response(request, _not_found_html(), status=404)


def is_customer_path(path: str) -> bool:
    return path.startswith(CUSTOMER_PREFIX)


def customer_not_found(request: web.Request) -> web.Response | None:
    """Customers get the one HTML 404 page under /t/, never JSON."""
    return not_found_page(request) if is_customer_path(request.path) else None
