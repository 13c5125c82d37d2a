"""One Redis pub/sub connection per process, fanned out to every live viewer it serves.

A viewer (one open SSE stream) joins channels (`LIVE_SHIPMENT_CHANNEL + shipment id`, and
`LIVE_DRIVER_CHANNEL + driver id` while the driver is shown); the hub subscribes a channel
when its first viewer joins and unsubscribes when the last leaves. Each viewer has a bounded
queue: when it is full the viewer is dropped (its stream ends; the browser reconnects and gets
a fresh `state`) instead of buffering without bound for a reader that does not keep up.

Redis may go away: the reader reconnects with a new pub/sub connection and subscribes again to
every channel that still has viewers. Messages published meanwhile are lost; the periodic link
check and the `state` sent on every reconnect make up for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gateway.platform.appkeys import REDIS
from gateway.platform.metrics import LIVE_STREAMS_DROPPED
from gateway.platform.names import LIVE_HUB_CHANNEL

log = logging.getLogger(__name__)

CLOSE: Final = ("", b"")  # queued to end a stream from the server side (shutdown)
RECONNECT_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class StreamOptions:
    heartbeat_s: float = 15.0  # a comment this often keeps proxies from closing the stream
    # The link is read again about this often (±20%, so streams opened together spread out):
    # expiry, and a revocation or a stop change lost with Redis. Revocations are pushed; this is
    # the fallback, and its cost (a few queries) is paid by every open stream.
    recheck_s: float = 120.0
    queue_max: int = 256  # events waiting for one viewer; one more and the viewer is dropped
    retry_ms: int = 5000  # the browser's reconnect delay


LIVE_OPTIONS: Final = web.AppKey("live_options", StreamOptions)


@dataclass(eq=False)
class Viewer:
    """One open stream: (channel, payload) pairs wait in `queue` for its writer."""

    queue: asyncio.Queue[tuple[str, bytes]]
    channels: set[str] = field(default_factory=set)
    dropped: bool = False
    transport: asyncio.BaseTransport | None = None  # the stream's connection, once it started

    def offer(self, channel: str, data: bytes) -> bool:
        """Queue a message; False (and dropped) when the viewer is too far behind."""
        try:
            self.queue.put_nowait((channel, data))
        except asyncio.QueueFull:
            self.drop()
            return False
        return True

    def drop(self) -> None:
        """End the stream now: its writer may be stuck on a reader that stopped reading, so the
        connection is aborted rather than closed (which would wait to flush)."""
        self.dropped = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()  # type: ignore[attr-defined]


class LiveHub:
    def __init__(self, redis: Redis, *, queue_max: int = 256) -> None:
        self._redis = redis
        self._queue_max = queue_max
        self._viewers: dict[str, set[Viewer]] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0  # viewers dropped for being slow since start (a benchmark reads it)

    def viewer(self) -> Viewer:
        return Viewer(asyncio.Queue(maxsize=self._queue_max))

    @property
    def viewer_count(self) -> int:
        return len({v for viewers in self._viewers.values() for v in viewers})

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        self.close_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_pubsub()

    def close_all(self) -> None:
        """Shutdown: every open stream ends (browsers reconnect to another process)."""
        for viewer in {v for viewers in self._viewers.values() for v in viewers}:
            viewer.offer(*CLOSE)  # a full queue: dropped, its connection aborted

    async def join(self, viewer: Viewer, channel: str) -> None:
        viewer.channels.add(channel)
        viewers = self._viewers.setdefault(channel, set())
        viewers.add(viewer)
        if len(viewers) == 1 and self._pubsub is not None:
            await self._command(self._pubsub.subscribe, channel)

    async def leave(self, viewer: Viewer, channel: str | None = None) -> None:
        """Leave `channel`, or every channel (the stream ended)."""
        for name in [channel] if channel else list(viewer.channels):
            viewer.channels.discard(name)
            viewers = self._viewers.get(name)
            if viewers is None:
                continue
            viewers.discard(viewer)
            if not viewers:
                del self._viewers[name]
                if self._pubsub is not None:
                    await self._command(self._pubsub.unsubscribe, name)

    def _fan_out(self, channel: str, data: bytes) -> None:
        for viewer in list(self._viewers.get(channel, ())):
            if viewer.dropped:
                continue
            if not viewer.offer(channel, data):
                self.dropped += 1
                LIVE_STREAMS_DROPPED.inc()
                log.info("live viewer dropped: %d events behind", self._queue_max)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError) as exc:
                log.warning("live pub/sub lost (%s); reconnecting", type(exc).__name__)
            await self._close_pubsub()
            await asyncio.sleep(RECONNECT_S)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # The hub's own channel too: it opens the connection even with no viewer yet.
        first = list(self._viewers)
        await pubsub.subscribe(LIVE_HUB_CHANNEL, *first)
        self._pubsub = pubsub
        joined_meanwhile = set(self._viewers) - set(first)  # join() saw no connection
        if joined_meanwhile:
            await pubsub.subscribe(*joined_meanwhile)
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            data = message["data"]
            self._fan_out(name, data if isinstance(data, bytes) else str(data).encode())

    async def _command(self, command: object, channel: str) -> None:
        try:
            await command(channel)  # type: ignore[operator]
        except (RedisError, OSError) as exc:  # the reader reconnects and subscribes again
            log.warning("live pub/sub command failed: %s", type(exc).__name__)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


LIVE_HUB: Final = web.AppKey("live_hub", LiveHub)


async def live_hub(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the process's hub, after Redis (it uses the same pool)."""
    options = app.get(LIVE_OPTIONS) or StreamOptions()
    hub = LiveHub(app[REDIS], queue_max=options.queue_max)
    app[LIVE_HUB] = hub
    hub.start()
    yield
    await hub.stop()


async def end_live_streams(app: web.Application) -> None:
    """on_shutdown: open streams end before the server waits for handlers to finish."""
    if LIVE_HUB in app:
        app[LIVE_HUB].close_all()
