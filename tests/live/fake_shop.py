"""A store's website on another origin, embedding the widget the way the contract says."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import web

PAGES: Final = Path(__file__).parent / "pages"


@dataclass
class FakeShop:
    """Serves `/` as an order page with one widget div per token and `scripts` widget tags."""

    gateway: str
    tokens: list[str] = field(default_factory=list)
    scripts: int = 1
    hostile: bool = False
    tiles: str = ""  # a tile server's origin for img-src (the real gateway's default is OSM)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/{name}.css", self._css)
        self._runner = web.AppRunner(app, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def csp(self) -> str:
        """Strict, like a careful store: the gateway is allowed for scripts, data and tiles only."""
        gw = self.gateway
        return (
            f"default-src 'self'; script-src 'self' {gw}; connect-src 'self' {gw}; "
            f"img-src 'self' data: {gw} {self.tiles}; style-src 'self'; base-uri 'none'"
        )

    async def _page(self, request: web.Request) -> web.Response:
        slots = "".join(
            f'<div class="slot" data-lastmile-shipment data-token="{html.escape(t)}"></div>'
            for t in self.tokens
        )
        script = f'<script src="{self.gateway}/widget.js" async></script>' * self.scripts
        hostile = '<link rel="stylesheet" href="/hostile.css">' if self.hostile else ""
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order A-1001 · Corner Books</title>
<link rel="stylesheet" href="/shop.css">{hostile}
</head><body>
<header class="bar">Corner Books</header>
<main class="wrap">
  <section>
    <h1>Thanks for your order, Jane</h1>
    <p class="lead">Order A-1001 · placed March 13</p>
    <ul class="items">
      <li><span>The Left Hand of Darkness</span><span>$14.99</span></li>
      <li><span>A Wizard of Earthsea</span><span>$11.50</span></li>
      <li><span>Gift wrap</span><span>$3.00</span></li>
    </ul>
    <p class="leaflet-container" id="own-box">The store's own box (class leaflet-container).</p>
  </section>
  <aside><h2>Delivery</h2>{slots}</aside>
</main>
{script}
</body></html>"""
        return web.Response(
            text=page, content_type="text/html", headers={"Content-Security-Policy": self.csp()}
        )

    async def _css(self, request: web.Request) -> web.FileResponse:
        path = PAGES / f"{request.match_info['name']}.css"
        if request.match_info["name"] not in ("shop", "hostile"):
            raise web.HTTPNotFound()
        return web.FileResponse(path)
