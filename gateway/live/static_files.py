"""The live surfaces' browser files (gateway/live/static/), served from memory at a hashed path.

`GET /static/<version>/<path>`: `<version>` is a short hash of every file's name and bytes,
computed once per process at start-up, so a deploy gets new URLs and a version may be cached
forever. Any other version, or a name outside the directory, is a 404. `vendor-leaflet.sh`
sits outside the directory on purpose: only this directory is served.

Headers (gateway/live/README.md): immutable caching, `Access-Control-Allow-Origin: *` (the
widget fetches the CSS from store pages), nosniff, `Cross-Origin-Resource-Policy: cross-origin`;
js and css gzip-compressed once at load (level 9), sent when the browser accepts gzip.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from aiohttp import web

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
PREFIX: Final = "/static/"
_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".md": "text/plain"}
_COMPRESSED: Final = (".js", ".css")
HEADERS: Final = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: str


@dataclass(frozen=True, slots=True)
class StaticFiles:
    version: str
    files: dict[str, StaticFile]


@cache
def load() -> StaticFiles:
    """Read, hash and compress the directory, once per process (blocking: start-up only)."""
    digest = hashlib.sha256()
    files: dict[str, StaticFile] = {}
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        name = path.relative_to(STATIC_DIR).as_posix()
        body = path.read_bytes()
        digest.update(name.encode() + b"\0" + body)
        files[name] = StaticFile(
            body,
            gzip.compress(body, compresslevel=9, mtime=0) if path.suffix in _COMPRESSED else None,
            _TYPES.get(path.suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream",
        )
    return StaticFiles(digest.hexdigest()[:12], files)


def static_version() -> str:
    return load().version


def static_url() -> str:
    """`/static/<version>/`: the base the page's and the widget's files are named from."""
    return f"{PREFIX}{static_version()}/"


async def prepare_static(app: web.Application) -> None:
    """on_startup: hash the files now, not on a customer's first request."""
    await asyncio.to_thread(load)


async def static_file(request: web.Request) -> web.Response:
    """A file of this deploy's version; another version or an unknown name is a 404."""
    found = load()
    asset = found.files.get(request.match_info["path"])
    if asset is None or request.match_info["version"] != found.version:
        raise web.HTTPNotFound()
    headers = dict(HEADERS)
    body = asset.body
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            body = asset.gzipped
    return web.Response(body=body, content_type=asset.content_type, headers=headers)


ROUTES: Final = (web.get(PREFIX + "{version}/{path:.+}", static_file),)
