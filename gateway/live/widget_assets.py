"""The widget's `assets`: where its static files and map tiles are (gateway/live/README.md)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

OSM_TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION: Final = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def assets_json(app: web.Application) -> dict[str, Any]:
    """`static_url` (the content-hashed path, resolved against the gateway), tiles, attribution."""
    return {"static_url": None, "tiles": OSM_TILES, "attribution": OSM_ATTRIBUTION}
