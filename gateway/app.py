"""The app factory: `create_app(settings)` alone builds the gateway; every route is mounted here.

An event's path through the areas: carriers (webhook in) → shipments (stored, changed) →
notifications and store_webhooks (fan-out, sent by the worker) → tracking (the customer's page).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final

from aiohttp import web
from arq.connections import ArqRedis

from gateway.carriers import routes as carriers
from gateway.carriers.connection_cache import CONNECTIONS, ConnectionCache
from gateway.chat import routes as chat
from gateway.dispatch import routes as dispatch
from gateway.dispatch.stream import end_streams
from gateway.drivers import routes as drivers
from gateway.drivers import routes_app as driver_app
from gateway.drivers import routes_proof as proofs
from gateway.drivers.auth import DRIVER_KEYS
from gateway.drivers.locations import PATHS
from gateway.drivers.proof_storage import storage_from_settings
from gateway.drivers.rules.deviation import PathCache
from gateway.drivers.store_keys import KeyCache
from gateway.drivers.writes import WRITES, WriteGate
from gateway.live import routes as live
from gateway.live import widget, widget_tokens
from gateway.live.hub import end_live_streams, live_hub
from gateway.live.static_files import prepare_static
from gateway.notifications import callbacks, log_api
from gateway.notifications import routes as notifications
from gateway.platform.appkeys import CLOCK, DB, REDIS, RELAY, SETTINGS
from gateway.platform.clock import Clock
from gateway.platform.db import create_engine
from gateway.platform.http import probes
from gateway.platform.http.edge import MAX_BODY_BYTES, edge_middleware, url_middleware
from gateway.platform.http.errors import error_middleware
from gateway.platform.http.openapi import Operation, openapi_document
from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings
from gateway.platform.tenant_cache import ConfigListener
from gateway.platform.vault import install_keys
from gateway.recovery import FINDERS
from gateway.shipments import routes as shipments
from gateway.shipments.writer import INGEST, IngestWriter
from gateway.store_webhooks import routes as store_webhooks
from gateway.tracking import api as tracking_api
from gateway.tracking import routes as tracking
from gateway.tracking.pages import customer_not_found

_CleanupCtx = Callable[[web.Application], AsyncIterator[None]]

# The store's API (`/v1`, API key): described by /openapi.json.
STORE_API: Final[Sequence[Operation]] = (
    *carriers.API,
    *shipments.API,
    *log_api.API,  # notifications: the log, re-send
    *notifications.API,
    *store_webhooks.API,
    *tracking_api.API,
    *drivers.API,  # drivers, routes, alerts
    *driver_app.API,  # the driver app: driver token instead of the API key
    *proofs.API,  # the driver app: proof of delivery
    *chat.API,  # the customer-driver thread as the store sees it
    *chat.DRIVER_API,  # the driver app: messages with customers
    *widget_tokens.API,  # tokens for the embeddable widget
)


def create_app(settings: Settings, *, redis_url: str | None = None) -> web.Application:
    """Build the gateway. `redis_url` overrides settings (the embedded Redis picks its port)."""
    app = web.Application(
        middlewares=[edge_middleware, error_middleware(customer_not_found), url_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    if settings.secret_key is not None:  # secrets at rest (gateway/platform/vault.py)
        install_keys(settings.secret_key.get_secret_value())
    app[SETTINGS] = settings
    app[CLOCK] = Clock()
    app[probes.OPENAPI_DOCUMENT] = openapi_document(STORE_API)
    app[probes.METRICS_REFRESH] = (log_api.refresh_metrics,)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis(redis_url or settings.redis_url))
    app.cleanup_ctx.append(_background)
    app.cleanup_ctx.append(_proof_storage)
    app.cleanup_ctx.append(live_hub)  # one pub/sub connection for every live viewer
    app.on_startup.append(tracking.prepare_pages)
    app.on_startup.append(prepare_static)
    app.on_startup.append(dispatch.prepare)
    app.on_shutdown.append(end_streams)
    app.on_shutdown.append(end_live_streams)
    app.router.add_routes(carriers.WEBHOOK_ROUTES)  # carriers: their own auth per connection
    app.router.add_routes([op.route() for op in STORE_API])  # stores: API key
    app.router.add_routes(tracking.PAGE_ROUTES)  # customers: the link is the capability
    app.router.add_routes(chat.PAGE_ROUTES)  # customers: a message for the driver
    app.router.add_routes(live.ROUTES)  # customers: the live stream; everyone: /static/<v>/
    app.router.add_routes(widget.WIDGET_ROUTES)  # store pages: CORS for the token's origin
    app.router.add_routes(proofs.IMAGE_ROUTES)  # customers: proof images behind signed links
    app.router.add_routes(dispatch.ROUTES)  # dispatchers: a session cookie from the API key
    app.router.add_routes(callbacks.ROUTES)  # providers: signed callbacks
    app.router.add_routes(probes.ROUTES)  # operators: probes, /openapi.json
    if settings.metrics_port is None:
        app.router.add_routes(probes.METRICS_ROUTES)
    else:  # a private scrape port instead of /metrics on the public one
        app.cleanup_ctx.append(probes.metrics_listener(settings.metrics_port))
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].database_url)
    app[DB] = engine
    app[DRIVER_KEYS] = KeyCache()
    app[PATHS] = PathCache()
    app[WRITES] = WriteGate(engine)
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


async def _proof_storage(app: web.Application) -> AsyncIterator[None]:
    async with storage_from_settings(app[SETTINGS]) as storage:
        app[proofs.PROOF_STORAGE] = storage
        yield


async def _background(app: web.Application) -> AsyncIterator[None]:
    writers = 1 if app[SETTINGS].is_sqlite else 4
    writer = IngestWriter(app[DB], writers=writers)
    relay = OutboxRelay(
        app[DB],
        app[REDIS],
        poll_s=app[SETTINGS].outbox_poll_s,
        finders=FINDERS,
        record=writer.mark_relayed,
    )
    writer.relay_to(relay.hand)  # committed outbox jobs go to arq without a read-back
    connections = ConnectionCache(app[DB], app[REDIS])  # changes heard from every process
    config_changes = ConfigListener(app[REDIS])  # rules and endpoints cached per store
    app[INGEST] = writer
    app[RELAY] = relay
    app[CONNECTIONS] = connections
    writer.start()
    relay.start()
    connections.start()
    config_changes.start()
    yield
    await config_changes.stop()
    await connections.stop()
    await writer.stop()
    await relay.stop()
