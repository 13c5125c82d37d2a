"""A stand-in for the gateway's live surfaces, for the browser tests of gateway/live/static/.

It does what gateway/live/README.md asks of the real server: static files under a versioned
path with long caching, the tracking page under a strict CSP, the status JSON, the SSE stream
(`state` first, an `id:` on every event, heartbeats, `gone`), the widget endpoints with CORS for
the token's origin only, and map tiles. Tests push events into open streams with `push()`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from tests.live.fake_tiles import svg_tile

ROOT: Final = Path(__file__).resolve().parents[2]
STATIC_DIR: Final = ROOT / "gateway" / "live" / "static"
PAGE_CSS: Final = (ROOT / "templates" / "pages" / "tracking.css").read_text(encoding="utf-8")
PAGE: Final = string.Template((Path(__file__).parent / "pages" / "tracking.html").read_text())
IMMUTABLE: Final = "public, max-age=31536000, immutable"
OSM_ATTRIBUTION: Final = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
_CLOSE: Final = b""  # queued to end a stream from the server side


def static_version() -> str:
    """A short hash of every static file: a new deploy gets new URLs, so caching can be forever."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def sse(event: str, data: object, event_id: int, *, retry_ms: int | None = None) -> bytes:
    lines = [f"retry: {retry_ms}"] if retry_ms is not None else []
    lines += [f"id: {event_id}", f"event: {event}", f"data: {json.dumps(data)}"]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class Shipment:
    status: dict[str, Any]
    gone: bool = False


@dataclass
class FakeGateway:
    """Pages under /t/{token}, widgets under /widget/{token}; `tiles` is the page's tile URL."""

    tiles: str = "/tiles/{z}/{x}/{y}.svg"
    heartbeat_s: float = 15.0
    retry_ms: int = 400  # the browser's reconnect delay, short for tests
    shipments: dict[str, Shipment] = field(default_factory=dict)
    # widget token -> (page token, the origin it was issued for)
    widget_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    connects: Counter[str] = field(default_factory=Counter)
    status_reads: Counter[str] = field(default_factory=Counter)
    last_event_ids: list[str | None] = field(default_factory=list)
    url: str = ""
    _streams: list[tuple[str, asyncio.Queue[bytes]]] = field(default_factory=list)
    _next_id: int = 0
    _runner: web.AppRunner | None = None

    @property
    def static_path(self) -> str:
        return f"/static/{static_version()}/"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/static/{version}/{path:.+}", self._static)
        app.router.add_get("/widget.js", self._widget_js)
        app.router.add_get("/t/{token}", self._page)
        app.router.add_get("/t/{token}/status", self._status)
        app.router.add_get("/t/{token}/live", self._live)
        app.router.add_get("/widget/{token}/status", self._status)
        app.router.add_get("/widget/{token}/live", self._live)
        app.router.add_get("/tiles/{z}/{x}/{y}.svg", self._tile)
        app.on_shutdown.append(self._end_streams)
        # handler_cancellation: a closed browser tab ends its stream handler at once.
        self._runner = web.AppRunner(app, shutdown_timeout=2, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, token: str, status: dict[str, Any]) -> None:
        self.shipments[token] = Shipment(status)

    def add_widget(self, widget_token: str, page_token: str, origin: str) -> None:
        self.widget_tokens[widget_token] = (page_token, origin)

    def push(self, token: str, event: str, data: object) -> None:
        """Send an event to every open stream of the shipment behind page token `token`."""
        if event == "state" and isinstance(data, dict):
            self.shipments[token].status = data
        self._next_id += 1
        message = sse(event, data, self._next_id)
        for stream_token, queue in self._streams:
            if stream_token == token:
                queue.put_nowait(message)

    def revoke(self, token: str) -> None:
        """The link is revoked: open streams get `gone`, every later request a 404."""
        self.shipments[token].gone = True
        self.push(token, "gone", {"text": "This tracking link is no longer active."})

    def drop_streams(self, token: str) -> None:
        """End the open streams as a restarting server would; browsers reconnect."""
        for stream_token, queue in self._streams:
            if stream_token == token:
                queue.put_nowait(_CLOSE)

    def open_streams(self, token: str) -> int:
        return sum(1 for stream_token, _ in self._streams if stream_token == token)

    def page_csp(self, img_src: str = "") -> str:
        style_hash = base64.b64encode(hashlib.sha256(PAGE_CSS.encode()).digest()).decode()
        return (
            "default-src 'none'; script-src 'self'; "
            f"style-src 'self' 'sha256-{style_hash}'; img-src 'self' data: {img_src}; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )

    def _resolve(self, request: web.Request) -> tuple[str, Shipment, dict[str, str]]:
        """(page token, shipment, CORS headers) or the 404/401 a real gateway answers."""
        token = request.match_info["token"]
        cors: dict[str, str] = {}
        if request.path.startswith("/widget/"):
            page_token, origin = self.widget_tokens.get(token, ("", ""))
            # Refusals carry CORS for the asking origin too: the widget must read the 401 to
            # say "not available" instead of "can't reach"; the body holds nothing.
            asking = {"Access-Control-Allow-Origin": request.headers.get("Origin", "null")}
            if request.headers.get("Origin") != origin:
                raise web.HTTPUnauthorized(headers={**asking, "Vary": "Origin"})
            cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
            token = page_token
        shipment = self.shipments.get(token)
        if shipment is None or shipment.gone:
            raise web.HTTPNotFound(headers=cors)
        return token, shipment, cors

    async def _static(self, request: web.Request) -> web.StreamResponse:
        path = (STATIC_DIR / request.match_info["path"]).resolve()
        if request.match_info["version"] != static_version() or not path.is_relative_to(STATIC_DIR):
            raise web.HTTPNotFound()
        if not path.is_file():
            raise web.HTTPNotFound()
        headers = {
            "Cache-Control": IMMUTABLE,
            "Access-Control-Allow-Origin": "*",  # the widget fetches leaflet.css from host pages
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        return web.FileResponse(path, headers=headers)

    async def _widget_js(self, request: web.Request) -> web.StreamResponse:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        return web.FileResponse(STATIC_DIR / "widget.js", headers=headers)

    async def _page(self, request: web.Request) -> web.Response:
        token, shipment, _ = self._resolve(request)
        live = shipment.status["live"]
        text = PAGE.substitute(
            css=PAGE_CSS,
            static=self.static_path,
            token=token,
            tiles=html.escape(self.tiles),
            attribution=html.escape(OSM_ATTRIBUTION),
            live=html.escape(json.dumps(live)),
            eta_text=html.escape(live["eta_text"] or ""),
            driver_text=html.escape((live["driver"] or {}).get("label") or ""),
        )
        img_src = self.tiles.split("/{z}")[0] if self.tiles.startswith("http") else ""
        headers = {"Content-Security-Policy": self.page_csp(img_src), "Cache-Control": "no-store"}
        return web.Response(text=text, content_type="text/html", headers=headers)

    async def _status(self, request: web.Request) -> web.Response:
        _, shipment, cors = self._resolve(request)
        self.status_reads[request.match_info["token"]] += 1
        body = dict(shipment.status)
        if cors:  # the widget learns the versioned static path and the tile source from here
            tiles = f"{self.url}/tiles/{{z}}/{{x}}/{{y}}.svg"
            body["assets"] = {"static_url": self.static_path, "tiles": tiles}
        return web.json_response(body, headers={"Cache-Control": "no-store", **cors})

    async def _live(self, request: web.Request) -> web.StreamResponse:
        token, shipment, cors = self._resolve(request)
        self.connects[token] += 1
        self.last_event_ids.append(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a buffering proxy would hold events back
                **cors,
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        entry = (token, queue)
        self._streams.append(entry)
        try:
            self._next_id += 1
            await response.write(
                sse("state", shipment.status, self._next_id, retry_ms=self.retry_ms)
            )
            await self._forward(response, queue)
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            self._streams.remove(entry)
        return response

    async def _forward(self, response: web.StreamResponse, queue: asyncio.Queue[bytes]) -> None:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), self.heartbeat_s)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if message == _CLOSE:
                return
            await response.write(message)
            if b"event: gone" in message:
                return

    async def _tile(self, request: web.Request) -> web.Response:
        x, y = int(request.match_info["x"]), int(request.match_info["y"])
        return web.Response(
            text=svg_tile(x, y),
            content_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"},
        )

    async def _end_streams(self, app: web.Application) -> None:
        for _, queue in self._streams:
            queue.put_nowait(_CLOSE)
