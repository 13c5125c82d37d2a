"""`/dispatch/live`: the console's Server-Sent Events.

`board` (the whole board) first, then again whenever it changes; `position` (one driver) as each
accepted ping batch is published on the store's fleet channel (gateway/drivers/live.py); `gone`
when the session has ended. Stop states and alerts are not published on pub/sub, so the board is
re-read from the database: within REFRESH_BUSY_S of a position (a stop changes only while its
driver reports) and at least every REFRESH_IDLE_S (a rating or a failed attempt made offline).
One dispatcher's stream costs a Redis subscription and a few small queries every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.dispatch import sessions
from gateway.dispatch.board import BoardRequest, build_board, position_of
from gateway.platform.appkeys import CLOCK, DB, REDIS
from gateway.platform.names import LIVE_FLEET_CHANNEL

log = logging.getLogger(__name__)

REFRESH_BUSY_S: Final = 2.0
REFRESH_IDLE_S: Final = 10.0
HEARTBEAT_S: Final = 15.0
TICK_S: Final = 0.5
RETRY_MS: Final = 3000
SUBSCRIBE_WAIT_S: Final = 2.0  # Redis away: stream the board anyway, positions when it returns


class OpenStreams:
    """Each open stream's stop signal, so that shutdown can end them all."""

    def __init__(self) -> None:
        self.stops: set[asyncio.Event] = set()


STREAMS: Final = web.AppKey("dispatch_streams", OpenStreams)
SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx would hold the events back
    "X-Content-Type-Options": "nosniff",
}


def event(name: str, data: object) -> bytes:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {body}\n\n".encode()


@dataclass
class _Positions:
    """The newest position per driver since the last send (a slow browser skips the rest)."""

    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        position = position_of(message) if isinstance(message, dict) else None
        if position is None or not isinstance(message.get("driver_id"), str):
            return
        self.pending[message["driver_id"]] = {
            "driver_id": message["driver_id"],
            **position.to_json(),
        }
        self.arrived.set()

    def take(self) -> list[dict[str, Any]]:
        taken, self.pending = list(self.pending.values()), {}
        self.arrived.clear()
        return taken


async def _follow(redis: Redis, channel: str, positions: _Positions) -> None:
    """Feed `positions` from the fleet channel; resubscribe after a Redis failure."""
    while True:
        try:
            async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                positions.subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        positions.add(message["data"])
        except (RedisError, OSError) as exc:
            log.warning("dispatch stream lost the fleet channel (%s); retrying", type(exc).__name__)
            await asyncio.sleep(2.0)


def _digest(board: dict[str, Any]) -> str:
    """The board without what moves on its own (positions are sent as they come)."""
    steady = {
        **board,
        "generated_at": None,
        "drivers": [{**d, "position": None} for d in board["drivers"]],
    }
    return hashlib.sha256(json.dumps(steady, sort_keys=True).encode()).hexdigest()


@contextlib.asynccontextmanager
async def _following(request: web.Request, tenant_id: str) -> AsyncIterator[_Positions]:
    positions = _Positions()
    task = asyncio.create_task(
        _follow(request.app[REDIS], LIVE_FLEET_CHANNEL + tenant_id, positions)
    )
    try:
        # Subscribed before the first board is read: no position falls between the two.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(positions.subscribed.wait(), SUBSCRIBE_WAIT_S)
        yield positions
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def board_stream(request: web.Request, token: str, asked: BoardRequest) -> web.StreamResponse:
    """Stream the board until the browser leaves, the session ends or the server stops."""
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(request)
    stop = asyncio.Event()
    request.app[STREAMS].stops.add(stop)
    try:
        async with _following(request, asked.tenant_id) as positions:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            await _run(request, response, token, asked, positions, stop)
    except ConnectionResetError:
        pass  # the browser left: nothing more to send
    finally:
        request.app[STREAMS].stops.discard(stop)
    return response


async def _run(
    request: web.Request,
    response: web.StreamResponse,
    token: str,
    asked: BoardRequest,
    positions: _Positions,
    stop: asyncio.Event,
) -> None:
    digest = ""
    refreshed = spoke = 0.0
    busy = True
    while not stop.is_set():
        now = time.monotonic()
        if (busy and now - refreshed >= REFRESH_BUSY_S) or now - refreshed >= REFRESH_IDLE_S:
            refreshed, busy = now, False
            if await _session_ended(request, token):
                await response.write(event("gone", {"login": "/dispatch/login"}))
                return
            board = await _board(request, asked)
            if board is not None and _digest(board) != digest:
                digest = _digest(board)
                await response.write(event("board", board))
                spoke = now
        for position in positions.take():
            await response.write(event("position", position))
            spoke, busy = now, True
        if now - spoke >= HEARTBEAT_S:
            await response.write(b": heartbeat\n\n")
            spoke = now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(positions.arrived.wait(), TICK_S)


async def _session_ended(request: web.Request, token: str) -> bool:
    """Logged out or expired. Redis away: not known yet (asked again at the next refresh)."""
    try:
        return await sessions.load(request.app[REDIS], token) is None
    except (RedisError, OSError):
        return False


async def _board(request: web.Request, asked: BoardRequest) -> dict[str, Any] | None:
    """The board now, or None when the database is away (the stream waits for the next try)."""
    now = request.app[CLOCK].now()
    fresh = BoardRequest(asked.tenant_id, asked.timezone, asked.day, now)
    try:
        board = await build_board(request.app[DB], request.app[REDIS], fresh)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("dispatch board not refreshed: %s", type(exc).__name__)
        return None
    return board.to_json()


async def end_streams(app: web.Application) -> None:
    """Shutdown: every open stream ends now instead of holding the server up."""
    for stop in list(app[STREAMS].stops):
        stop.set()
