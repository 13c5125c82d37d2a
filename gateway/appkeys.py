"""Typed application keys: every shared resource a handler can reach."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.clock import Clock
from gateway.connection_cache import ConnectionCache
from gateway.ingest_writer import IngestWriter
from gateway.relay import OutboxRelay
from gateway.settings import Settings

SETTINGS: Final = web.AppKey("settings", Settings)
DB: Final = web.AppKey("db", AsyncEngine)
REDIS: Final = web.AppKey("redis", ArqRedis)
RELAY: Final = web.AppKey("relay", OutboxRelay)
INGEST: Final = web.AppKey("ingest", IngestWriter)
CLOCK: Final = web.AppKey("clock", Clock)
CONNECTIONS: Final = web.AppKey("connections", ConnectionCache)
