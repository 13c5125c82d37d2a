"""Typed application keys for the shared plumbing; areas declare keys for their own resources."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.clock import Clock
from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings

SETTINGS: Final = web.AppKey("settings", Settings)
DB: Final = web.AppKey("db", AsyncEngine)
REDIS: Final = web.AppKey("redis", ArqRedis)
RELAY: Final = web.AppKey("relay", OutboxRelay)
CLOCK: Final = web.AppKey("clock", Clock)
