"""The live stream of one shipment as Server-Sent Events (the page's and the widget's `/live`).

Wire format (gateway/live/README.md): `state` first on every connect, then `position` when the
followed driver publishes and `state` when the shipment changes, a heartbeat comment when
quiet, and `gone` before the end when the link stops working. Every event has an `id:`.

`Last-Event-ID` is accepted and ignored: the full `state` that opens every connection already
holds everything a reconnecting browser missed, and the client drops positions older than the
one it shows, so nothing is replayed.

Messages come from the process's one pub/sub connection (gateway/live/hub.py). Per viewer, a
position costs no database read: it is labelled from the last `state` (destination, locale,
time zone). A shipment message costs one read of the status (and of whom to follow).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from aiohttp import web

from gateway.domain.zones import zone_or_utc
from gateway.live import rules
from gateway.live.hub import CLOSE, LIVE_HUB, LIVE_OPTIONS, LiveHub, StreamOptions, Viewer
from gateway.live.rules import Position
from gateway.live.view import following
from gateway.platform.appkeys import CLOCK
from gateway.platform.metrics import LIVE_STREAMS
from gateway.platform.names import LIVE_DRIVER_CHANNEL, LIVE_SHIPMENT_CHANNEL
from gateway.tracking.page_text import PageLocale

log = logging.getLogger(__name__)

StateReader = Callable[[], Awaitable[dict[str, Any]]]  # the full status JSON; raises if gone
ValidityCheck = Callable[[], Awaitable[bool]]
SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # a buffering proxy (nginx) would hold events back
    "X-Content-Type-Options": "nosniff",
}
HEARTBEAT: Final = b": heartbeat\n\n"
GONE_FALLBACK: Final = "This tracking link is no longer active."
_ids = itertools.count()


class LinkGone(Exception):
    """The link stopped working while a stream was open."""


def next_event_id() -> int:
    """Increasing ids across restarts too (milliseconds since the epoch, then a counter)."""
    return int(time.time() * 1000) * 1000 + next(_ids) % 1000


def sse(event: str, data: object, *, retry_ms: int | None = None) -> bytes:
    lines = [f"retry: {retry_ms}"] if retry_ms is not None else []
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    lines += [f"id: {next_event_id()}", f"event: {event}", f"data: {payload}"]
    return ("\n".join(lines) + "\n\n").encode()


@dataclass
class _Follow:
    """What one viewer needs to label a driver's position without reading the database."""

    driver_id: str | None = None
    destination: tuple[float, float] | None = None
    locale: PageLocale | None = None
    zone_name: str = "UTC"
    shown: Position | None = None  # the last position sent (stale is re-checked on heartbeats)
    shown_stale: bool = False

    def update(self, state: dict[str, Any], driver_id: str | None) -> None:
        live = state.get("live") or {}
        found = live.get("destination")
        self.destination = (found["lat"], found["lon"]) if found else None
        self.locale = PageLocale(state.get("locale"))
        self.zone_name = str(state.get("timezone") or "UTC")
        self.driver_id = driver_id
        driver = live.get("driver")
        self.shown = Position.from_json(driver) if driver else None
        self.shown_stale = bool(driver and driver.get("stale"))

    def position_event(self, position: Position, now: datetime) -> bytes:
        stale = rules.is_stale(position.recorded_at, now)
        self.shown, self.shown_stale = position, stale
        tag = self.locale.tag if self.locale else "en-US"
        return _position_event(position, self.destination, tag, self.zone_name, stale)

    def turned_stale(self, now: datetime) -> bool:
        """The position shown was fresh when sent and is stale now (no ping since)."""
        return (
            self.shown is not None
            and self.driver_id is not None
            and not self.shown_stale
            and rules.is_stale(self.shown.recorded_at, now)
        )


async def live_stream(
    request: web.Request,
    shipment_id: str,
    current_state: StateReader,
    still_valid: ValidityCheck,
    *,
    headers: Mapping[str, str] | None = None,
    gone_text: str = GONE_FALLBACK,
) -> web.StreamResponse:
    """Stream `shipment_id` to this request until the viewer leaves, lags, or the link dies.

    `current_state()` returns the full status JSON (with `live`); raising `web.HTTPException`
    or `LinkGone` means the link is gone. `still_valid()` is asked every `recheck_s` and when a
    revocation is published. `headers` are added (the widget's CORS). The first state is read
    before the response starts, so a dead link still gets its normal HTTP error.
    """
    app = request.app
    hub, options = app[LIVE_HUB], app.get(LIVE_OPTIONS) or StreamOptions()
    state = await current_state()
    viewer = hub.viewer()
    follow = _Follow()
    response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
    try:
        await hub.join(viewer, LIVE_SHIPMENT_CHANNEL + shipment_id)
        await _refollow(hub, viewer, follow, state, await following(app, shipment_id))
        await response.prepare(request)
        LIVE_STREAMS.inc()
        viewer.transport = request.transport
        await response.write(sse("state", state, retry_ms=options.retry_ms))
        session = _Session(request, response, viewer, follow, options)
        await session.run(shipment_id, current_state, still_valid, gone_text)
    except ConnectionResetError:
        pass  # the browser went away (or its connection was aborted as too slow)
    finally:
        if response.prepared:
            LIVE_STREAMS.dec()
        await hub.leave(viewer)
    return response


async def _refollow(
    hub: LiveHub, viewer: Viewer, follow: _Follow, state: dict[str, Any], driver_id: str | None
) -> None:
    if follow.driver_id != driver_id and follow.driver_id is not None:
        await hub.leave(viewer, LIVE_DRIVER_CHANNEL + follow.driver_id)
    if driver_id is not None and follow.driver_id != driver_id:
        await hub.join(viewer, LIVE_DRIVER_CHANNEL + driver_id)
    follow.update(state, driver_id)


class _Session:
    """The loop of one open stream: wait for a message, a heartbeat or a link check."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        viewer: Viewer,
        follow: _Follow,
        options: StreamOptions,
    ) -> None:
        self.app = request.app
        self.response = response
        self.viewer = viewer
        self.follow = follow
        self.options = options
        self.next_check = 0.0

    async def run(
        self,
        shipment_id: str,
        current_state: StateReader,
        still_valid: ValidityCheck,
        gone_text: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.next_check = loop.time() + self._recheck_s()
        try:
            while not self.viewer.dropped:
                message = await self._next(loop, shipment_id, still_valid)
                if message is None:
                    continue
                if message == CLOSE or self.viewer.dropped:
                    return
                await self._handle(shipment_id, *message, current_state, still_valid)
        except (LinkGone, web.HTTPException):
            await self.response.write(sse("gone", {"text": gone_text}))

    def _recheck_s(self) -> float:
        return self.options.recheck_s * random.uniform(0.8, 1.2)  # noqa: S311 - not a secret

    async def _next(
        self, loop: asyncio.AbstractEventLoop, shipment_id: str, still_valid: ValidityCheck
    ) -> tuple[str, bytes] | None:
        """The next message, or None after a quiet spell (a heartbeat was sent). Every
        `recheck_s`, busy or not, the link is checked (LinkGone) and whom to follow is read
        again: a stop becoming the active one may have been announced while Redis was away."""
        if loop.time() >= self.next_check:
            self.next_check = loop.time() + self._recheck_s()
            if not await still_valid():
                raise LinkGone()
            if await following(self.app, shipment_id) != self.follow.driver_id:
                return LIVE_SHIPMENT_CHANNEL + shipment_id, b"{}"  # as if it had changed
        try:
            return self.viewer.queue.get_nowait()  # busy: no timer to arm
        except asyncio.QueueEmpty:
            pass
        wait_s = min(self.options.heartbeat_s, max(0.0, self.next_check - loop.time()))
        try:
            return await asyncio.wait_for(self.viewer.queue.get(), wait_s)
        except TimeoutError:
            await self._quiet()
            return None

    async def _handle(
        self,
        shipment_id: str,
        channel: str,
        data: bytes,
        current_state: StateReader,
        still_valid: ValidityCheck,
    ) -> None:
        if channel.startswith(LIVE_DRIVER_CHANNEL):
            if channel != LIVE_DRIVER_CHANNEL + (self.follow.driver_id or ""):
                return  # a driver left behind a moment ago
            position = _position(data)
            if position is not None:
                now = self.app[CLOCK].now()
                await self.response.write(self.follow.position_event(position, now))
            return
        if _json(data).get("type") == "revoked" and not await still_valid():
            raise LinkGone()
        state = await current_state()
        driver_id = await following(self.app, shipment_id)
        await _refollow(self.app[LIVE_HUB], self.viewer, self.follow, state, driver_id)
        await self.response.write(sse("state", state))

    async def _quiet(self) -> None:
        """A heartbeat; and a shown position turning stale is told then (no ping may come)."""
        now, shown = self.app[CLOCK].now(), self.follow.shown
        if shown is not None and self.follow.turned_stale(now):
            await self.response.write(self.follow.position_event(shown, now))
            return
        await self.response.write(HEARTBEAT)


@lru_cache(maxsize=1024)
def _position(data: bytes) -> Position | None:
    """A published position, parsed once for all the viewers it reaches."""
    return Position.from_json(_json(data))


@lru_cache(maxsize=4096)
def _position_event(
    position: Position,
    destination: tuple[float, float] | None,
    locale_tag: str,
    zone_name: str,
    stale: bool,
) -> bytes:
    """One `position` event, the same bytes for every viewer who sees it the same way (the
    open tabs of one stop): labelled and encoded once, not once per tab."""
    locale, zone = PageLocale(locale_tag), zone_or_utc(zone_name)
    return sse("position", rules.describe(position, destination, locale, zone, stale))


def _json(data: bytes) -> dict[str, Any]:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
