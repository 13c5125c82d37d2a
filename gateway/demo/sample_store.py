"""The demo's sample store page: a store's order page on another origin, embedding the widget.

It behaves as a store's own website would: for each view of the order page its server asks the
gateway for a widget token (`POST /v1/widget-tokens`, with the store's API key, for the page's
own origin) and puts it in the embed snippet. Its CSP is strict: scripts and data from the
gateway only, images from the gateway and the tile server, no inline script or style.

Which order it shows: a parcel a simulated driver is about to bring (the soonest ETA of the
store's own drivers' parcels out for delivery), kept until it is delivered; before the drivers
set off, the newest demo parcel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web

from gateway.live.widget_rules import BadOrigin, normalize_origin
from gateway.platform.templates import file_environment, template_dir

log = logging.getLogger(__name__)

TEMPLATE: Final = "demo/sample_store.html.j2"
CSS_PATH: Final = "demo/sample_store.css"
CANDIDATES: Final = 20  # parcels out for delivery looked at to find the next one
_ENV: Final = file_environment()
_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)


@dataclass
class SampleStore:
    """`gateway_url`: where this process reaches the gateway; `public_url`: where browsers do."""

    gateway_url: str
    public_url: str
    api_key: str
    tile_origin: str
    shipment_id: str | None = None  # the order on show, until it is delivered
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)

    def csp(self) -> str:
        gateway = self.public_url
        return (
            f"default-src 'none'; script-src {gateway}; connect-src {gateway}; "
            f"img-src 'self' data: {gateway} {self.tile_origin}; style-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/store.css", self._css)
        app.cleanup_ctx.append(self._session)
        return app

    async def _session(self, _app: web.Application) -> AsyncIterator[None]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with aiohttp.ClientSession(headers=headers, timeout=_TIMEOUT) as http:
            self._http = http
            yield
        self._http = None

    async def _page(self, request: web.Request) -> web.Response:
        origin = f"{request.scheme}://{request.host}"  # what the browser sends as Origin
        token, order, problem = None, None, None
        try:
            normalize_origin(origin, dev=True)
            order = await self._order()
            if order is not None:
                token = await self._token(order["id"], origin)
        except BadOrigin:
            problem = "Open this page on 127.0.0.1 or localhost: a widget token names its origin."
        except (aiohttp.ClientError, TimeoutError, LookupError) as exc:
            log.warning("sample store: no widget token (%s)", type(exc).__name__)
            problem = "The gateway did not answer; reload in a moment."
        html = _ENV.get_template(TEMPLATE).render(
            order=order, token=token, problem=problem, gateway=self.public_url
        )
        headers = {
            "Content-Security-Policy": self.csp(),
            "Cache-Control": "no-store",  # a fresh token per view
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }
        return web.Response(text=html, content_type="text/html", headers=headers)

    async def _css(self, _request: web.Request) -> web.Response:
        css = await asyncio.to_thread((template_dir() / CSS_PATH).read_text, encoding="utf-8")
        return web.Response(text=css, content_type="text/css")

    async def _order(self) -> dict[str, Any] | None:
        """The shipment on show: kept while a driver is bringing it, else the next one due."""
        if self.shipment_id is not None:
            kept = await self._get(f"/v1/shipments/{self.shipment_id}")
            if kept is not None and kept["status"] == "out_for_delivery" and kept.get("eta"):
                return kept
        found = await self._next_due() or await self._newest()
        self.shipment_id = found["id"] if found else None
        return found

    async def _next_due(self) -> dict[str, Any] | None:
        """Of the store's own drivers' parcels out for delivery, the one with the soonest ETA."""
        query = f"?status=out_for_delivery&limit={CANDIDATES}"  # only own drivers give an ETA
        listed = await self._get("/v1/shipments" + query)
        ids = [item["id"] for item in (listed or {}).get("shipments", [])]
        found = await asyncio.gather(*(self._get(f"/v1/shipments/{i}") for i in ids))
        due = [s for s in found if s is not None and s.get("eta")]
        return min(due, key=lambda s: str(s["eta"])) if due else None

    async def _newest(self) -> dict[str, Any] | None:
        listed = await self._get("/v1/shipments?limit=1")
        shipments = (listed or {}).get("shipments", [])
        return await self._get(f"/v1/shipments/{shipments[0]['id']}") if shipments else None

    async def _get(self, path: str) -> dict[str, Any] | None:
        assert self._http is not None  # noqa: S101 - set by the app's cleanup context
        async with self._http.get(self.gateway_url + path) as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
            return data

    async def _token(self, shipment_id: str, origin: str) -> str:
        assert self._http is not None  # noqa: S101 - set by the app's cleanup context
        body = {"shipment_id": shipment_id, "origin": origin}
        async with self._http.post(self.gateway_url + "/v1/widget-tokens", json=body) as response:
            response.raise_for_status()
            token: str = (await response.json())["token"]
            return token


async def serve_sample_store(store: SampleStore, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start the page on `port`, or on any free port if that one is taken; returns its URL."""
    runner = web.AppRunner(store.app(), access_log=None)
    await runner.setup()
    for attempt in (port, 0):
        try:
            await web.TCPSite(runner, host, attempt).start()
            break
        except OSError:
            if attempt == 0:
                await runner.cleanup()
                raise
    bound = runner.addresses[0][1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - display only
    return runner, f"http://{shown}:{bound}/"
