"""The widget's `assets`: where its static files and map tiles are (gateway/live/README.md)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from gateway.platform.settings import Settings

OSM_TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION: Final = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def tiles_url(settings: Settings) -> str:
    """The map tile URL template the widget uses (a store page's CSP needs its host)."""
    return OSM_TILES


def tile_origin(settings: Settings) -> str:
    """The tile server's origin, for a store page's `img-src`."""
    parts = urlsplit(tiles_url(settings))
    return f"{parts.scheme}://{parts.netloc}"


def assets_json(app: web.Application) -> dict[str, Any]:
    """`static_url` (the content-hashed path, resolved against the gateway), tiles, attribution."""
    return {"static_url": None, "tiles": OSM_TILES, "attribution": OSM_ATTRIBUTION}
