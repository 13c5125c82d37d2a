"""The first view stays small on a phone: page + CSS + scripts + Leaflet, gzip, without tiles.

The numbers are printed (pytest -s) for the record; the budget is a hard limit, not a timing.
"""

from __future__ import annotations

import gzip
import re
from typing import Any, Final

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.live.conftest import TOKEN
from tests.live.fake_gateway import STATIC_DIR, FakeGateway
from tests.live.gateway_support import drive, own_delivery

PAGE_BUDGET_BYTES: Final = 100 * 1024
WIDGET_JS_BUDGET_BYTES: Final = 10 * 1024
PAGE_ASSETS: Final = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "live.js",
    "live.css",
    "track.js",
)


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))  # zlib's default, what servers use


def asset(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


async def test_the_tracking_page_first_view_is_under_100_kb_gzipped(
    gateway: FakeGateway,
) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/t/{TOKEN}") as got:
        html = await got.read()  # tracking.css is inlined, as on the real page
    sizes = {"page (HTML + inline tracking.css)": gzipped(html)}
    sizes |= {name: gzipped(asset(name)) for name in PAGE_ASSETS}
    for name, size in sizes.items():
        print(f"{size:>7,} B  {name}")
    total = sum(sizes.values())
    print(f"{total:>7,} B  total, gzip -6")
    assert total < PAGE_BUDGET_BYTES


def test_the_widget_script_is_small() -> None:
    size = gzipped(asset("widget.js"))
    print(f"{size:>7,} B  widget.js gzip -6")
    assert size < WIDGET_JS_BUDGET_BYTES


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_real_tracking_page_first_view_is_under_100_kb_gzipped(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    """The gateway's own page with the live card: the HTML and every file it links, gzip."""
    delivery = await own_delivery(client, engine)
    await drive(client, delivery, 100, 0)
    page = await client.get(delivery.paths[0])
    html = await page.read()
    linked = re.findall(rb'(?:src|href)="(/static/[^"]+)"', html)
    assert len(linked) == len(PAGE_ASSETS)
    sizes = {"real page (HTML + inline tracking.css)": gzipped(html)}
    for url in linked:
        got = await client.get(url.decode(), headers={"Accept-Encoding": "gzip"})
        assert got.status == 200
        sizes[url.decode().split("/", 3)[3]] = gzipped(await got.read())
    for name, size in sizes.items():
        print(f"{size:>7,} B  {name}")
    total = sum(sizes.values())
    print(f"{total:>7,} B  total, gzip -6 (real gateway)")
    assert total < PAGE_BUDGET_BYTES
