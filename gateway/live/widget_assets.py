"""The widget's `assets`: where its static files and map tiles are (gateway/live/README.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gateway.live.static_files import static_url
from gateway.platform.settings import Settings


def tile_origin(settings: Settings) -> str:
    """The tile server's origin, for a store page's `img-src` ('self' for a relative URL)."""
    parts = urlsplit(settings.map_tiles_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"


def assets_json(settings: Settings) -> dict[str, Any]:
    """`static_url` (the content-hashed path, resolved against the gateway), tiles, attribution."""
    return {
        "static_url": static_url(),
        "tiles": settings.map_tiles_url,
        "attribution": settings.map_tiles_attribution,
    }
