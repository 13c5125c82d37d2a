"""The app factory: `create_app(settings)` alone builds the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from arq.connections import ArqRedis

from gateway.appkeys import CLOCK, CONNECTIONS, DB, INGEST, REDIS, RELAY, SETTINGS
from gateway.clock import Clock
from gateway.connection_cache import ConnectionCache
from gateway.http import api as _api  # noqa: F401  (registers its operations)
from gateway.http import callbacks, customer, hooks, ops
from gateway.http import carrier_connections_api as _carrier_connections  # noqa: F401
from gateway.http import notification_rules_api as _notification_rules  # noqa: F401  (registers)
from gateway.http import notifications_api as _notifications_api  # noqa: F401  (registers)
from gateway.http import tracking_api as _tracking_api  # noqa: F401  (registers)
from gateway.http import webhook_endpoints as _webhook_endpoints  # noqa: F401  (registers)
from gateway.http.errors import error_middleware
from gateway.http.openapi import add_routes as add_api_routes
from gateway.ingest_writer import IngestWriter
from gateway.relay import OutboxRelay
from gateway.settings import Settings
from gateway.store.db import create_engine

MAX_BODY_BYTES = 1024 * 1024
_CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, *, redis_url: str | None = None) -> web.Application:
    """Build the gateway. `redis_url` overrides settings (the embedded Redis picks its port)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[CLOCK] = Clock()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis(redis_url or settings.redis_url))
    app.cleanup_ctx.append(_background)
    ops.add_routes(app)
    hooks.add_routes(app)
    customer.add_routes(app)
    callbacks.add_routes(app)
    add_api_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[DB] = engine
    app[CONNECTIONS] = ConnectionCache(engine)
    yield
    await engine.dispose()


def _redis(url: str | None) -> _CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if url is None:
            raise RuntimeError("no Redis URL: set LASTMILE_REDIS_URL or use `lastmile demo`")
        # No connection yet: the gateway starts, and ingests, while Redis is still away.
        pool = ArqRedis.from_url(url)
        app[REDIS] = pool
        yield
        await pool.aclose()

    return ctx


async def _background(app: web.Application) -> AsyncIterator[None]:
    writers = 1 if app[SETTINGS].is_sqlite else 4
    writer = IngestWriter(app[DB], writers=writers)
    relay = OutboxRelay(app[DB], app[REDIS], poll_s=app[SETTINGS].outbox_poll_s)
    app[INGEST] = writer
    app[RELAY] = relay
    writer.start()
    relay.start()
    yield
    await writer.stop()
    await relay.stop()
