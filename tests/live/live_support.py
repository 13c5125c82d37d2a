"""Browser helpers for the live tests: Debian's Chromium, CSP and error watching, screenshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
)

SCREENSHOTS: Final = Path(__file__).resolve().parents[1] / "screenshots"
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MOBILE: Final = ViewportSize(width=390, height=844)
DESKTOP: Final = ViewportSize(width=1280, height=900)
# Runs before any page script (injected by the browser, outside the page's CSP): records every
# CSP violation and marks the document, so a reload would be noticed.
_WATCH: Final = """
window.__csp = [];
window.__globals = Object.getOwnPropertyNames(window).concat(['__globals']);
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || e.sourceFile || ''));
});
"""


@dataclass
class Watched:
    """A page and what went wrong on it: JavaScript errors and console errors."""

    page: Page
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    async def csp_violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__csp")
        return found + [m for m in self.console if "Content Security Policy" in m]

    async def new_globals(self) -> list[str]:
        """Names the page's scripts added to `window` since it started."""
        names: list[str] = await self.page.evaluate(
            "Object.getOwnPropertyNames(window).filter((n) => !window.__globals.includes(n))"
        )
        return sorted(names)

    async def assert_clean(self) -> None:
        assert await self.csp_violations() == []
        assert self.errors == []


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's headless Chromium (never a downloaded one)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Browser, url: str, viewport: ViewportSize = MOBILE) -> Watched:
    context = await browser.new_context(viewport=viewport, device_scale_factor=2)
    await context.add_init_script(_WATCH)
    page = await context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console.append(message.text)

    def on_error(error: Error) -> None:
        watched.errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    response = await page.goto(url)
    assert response is not None and response.ok, url
    return watched


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(exist_ok=True)
    return str(SCREENSHOTS / f"live-{name}.png")


async def center(locator: Locator) -> tuple[float, float]:
    """The middle of an element on the screen (a map marker)."""
    box = await locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def settled_center(locator: Locator) -> tuple[float, float]:
    """Where the marker rests once its glide is over."""
    last = await center(locator)
    while True:
        await asyncio.sleep(0.25)
        now = await center(locator)
        if now == last:
            return now
        last = now
