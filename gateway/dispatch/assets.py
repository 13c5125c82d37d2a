"""The console's browser files, served from memory at a content-hashed path.

`/dispatch/static/<version>/<name>`: the console's own script and stylesheet
(gateway/dispatch/static/) and Leaflet, vendored once for every map of the gateway
(gateway/live/static/vendor/leaflet/, with its licence). `<version>` hashes every file, so a
deploy gets new URLs and browsers may cache a version forever.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

_HERE: Final = Path(__file__).resolve().parent
# (directory, prefix of its files' names under the static path)
SOURCES: Final = (
    (_HERE / "static", ""),
    (_HERE.parent / "live" / "static" / "vendor" / "leaflet", "leaflet/"),
)
PREFIX: Final = "/dispatch/static/"
_TYPES: Final = {".js": "text/javascript", ".css": "text/css"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str


@dataclass(frozen=True, slots=True)
class Assets:
    version: str
    files: dict[str, Asset]

    def url(self, name: str) -> str:
        return f"{PREFIX}{self.version}/{name}"


def load_assets() -> Assets:
    """Read, hash and compress the files (blocking: call it in a thread)."""
    digest = hashlib.sha256()
    files: dict[str, Asset] = {}
    for root, prefix in SOURCES:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = prefix + path.relative_to(root).as_posix()
            body = path.read_bytes()
            digest.update(name.encode() + b"\0" + body)
            text = path.suffix in _TYPES
            files[name] = Asset(
                body,
                gzip.compress(body, compresslevel=9, mtime=0) if text else None,
                _TYPES.get(path.suffix)
                or mimetypes.guess_type(name)[0]
                or "application/octet-stream",
            )
    return Assets(digest.hexdigest()[:12], files)


ASSETS: Final = web.AppKey("dispatch_assets", Assets)


async def prepare_assets(app: web.Application) -> None:
    app[ASSETS] = await asyncio.to_thread(load_assets)


async def static_file(request: web.Request) -> web.Response:
    """A file of this deploy's version; another version or an unknown name is a 404."""
    assets = request.app[ASSETS]
    asset = assets.files.get(request.match_info["name"])
    if asset is None or request.match_info["version"] != assets.version:
        raise web.HTTPNotFound()
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    body = asset.body
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            body = asset.gzipped
    return web.Response(body=body, content_type=asset.content_type, headers=headers)
