"""The console's HTML: one Jinja2 environment for templates/dispatch/, and the headers every
console response carries (a strict CSP: scripts and styles from this gateway only, images from
the configured tile server, no inline script or style, no framing)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from gateway.platform.settings import Settings
from gateway.platform.templates import template_dir

_ENV: Final = jinja2.Environment(  # the console's own (autoescaped whatever the extension)
    loader=jinja2.FileSystemLoader(template_dir()),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def tiles(settings: Settings) -> tuple[str, str]:
    """The map tiles' URL template and attribution (LASTMILE_MAP_TILES_URL / _ATTRIBUTION)."""
    return settings.map_tiles_url, settings.map_tiles_attribution


def content_security_policy(settings: Settings) -> str:
    tile_url = tiles(settings)[0]
    parts = urlsplit(tile_url)
    tile_host = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tile_host}; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def headers(settings: Settings) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(settings),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "X-Robots-Tag": "noindex, nofollow",
    }


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(f"dispatch/{template}").render(**context)


def html_response(
    settings: Settings, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    return web.Response(
        text=render(template, **context),
        status=status,
        content_type="text/html",
        headers=headers(settings),
    )


def warm_up() -> None:
    for name in ("console.html.j2", "login.html.j2", "refused.html.j2"):
        _ENV.get_template(f"dispatch/{name}")
