"""Start and stop the demo: embedded Redis, SQLite, the gateway and a worker in one process."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from gateway.app import create_app
from gateway.carriers import store as connections
from gateway.demo import receiver
from gateway.demo.console import demo_worker_ctx, say
from gateway.demo.parcels import replay_forever
from gateway.demo.sample_store import SampleStore, serve_sample_store
from gateway.demo.state import DemoStore, ensure_store, fresh_endpoint, log_file
from gateway.demo.terminal import own_foreground
from gateway.live.widget_assets import tile_origin
from gateway.notifications.settings import NotificationSettings
from gateway.notifications.store_config import put_settings
from gateway.platform.appkeys import DB, SETTINGS
from gateway.platform.embedded_redis import EmbeddedRedis
from gateway.platform.http.edge import SERVER_OPTIONS
from gateway.platform.logs import configure_logging
from gateway.platform.migrate import upgrade
from gateway.platform.settings import Settings
from gateway.simulate.demo import console_banner, drive_demo
from gateway.worker import build_worker
from webhooks.base import AuthScheme, ConnectionAuth

_CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def run_demo(settings: Settings, *, host: str, port: int, state_dir: Path, verbose: bool) -> None:
    """Runs until Ctrl-C (or SIGTERM), then stops everything it started and says so."""
    configure_logging(settings.log_level, file=log_file(state_dir), console=verbose)
    with contextlib.ExitStack() as stack:
        stack.enter_context(own_foreground())  # Ctrl-C stops the demo, not `make` around it
        redis_url = settings.redis_url or stack.enter_context(EmbeddedRedis())
        upgrade(settings.database_url)
        app = create_app(settings, redis_url=redis_url)
        app.router.add_post(receiver.PATH, receiver.receive)  # the demo store's own endpoint
        app.cleanup_ctx.append(_worker(settings, redis_url))
        shop_port = (port + 1) % 65536  # the sample store page: another origin
        app.cleanup_ctx.append(_demo_store(state_dir, f"http://{host}:{port}", host, shop_port))
        web.run_app(app, host=host, port=port, print=None, access_log=None, **SERVER_OPTIONS)
    say(f"Everything stopped (gateway, worker, Redis). The demo store's key stays in {state_dir}/.")


def _worker(settings: Settings, redis_url: str) -> _CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        ctx = demo_worker_ctx(settings)  # console messages are printed as they are sent
        worker = build_worker(settings, redis_url, handle_signals=False, ctx=ctx)
        task = asyncio.create_task(worker.async_run())
        yield
        # Stop polling and let running jobs finish before close(): arq's close() cancels jobs in
        # flight, and a cancel at the wrong moment skips on_shutdown (nothing gets closed).
        if worker.main_task is not None:
            worker.main_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if worker.tasks:
            await asyncio.wait(list(worker.tasks.values()), timeout=10)
        await worker.close()

    return ctx


def _demo_store(state_dir: Path, base_url: str, host: str, shop_port: int) -> _CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        credential = secrets.token_urlsafe(24)
        async with app[DB].begin() as conn:
            store = await ensure_store(conn, state_dir)
            auth = ConnectionAuth(AuthScheme.STATIC_HEADER, "credential", (credential.encode(),))
            connection_id = await connections.create_connection(conn, store.tenant_id, "ups", auth)
            # Every step of the demo parcel is texted at once, whatever the time of day.
            quick = NotificationSettings(quiet_hours=None, collapse_window_s=0)
            await put_settings(conn, store.tenant_id, quick)
            secret = await fresh_endpoint(conn, store.tenant_id, base_url + receiver.PATH)
        app[receiver.SECRET] = secret
        public = app[SETTINGS].public_url
        shop = SampleStore(base_url, public, store.api_key, tile_origin(app[SETTINGS]))
        shop_runner, shop_url = await serve_sample_store(shop, host, shop_port)
        _banner(public, store, state_dir, shop_url)
        hook_url = f"{base_url}/hooks/ups/{connection_id}"
        tasks = (
            asyncio.create_task(
                replay_forever(app[DB], store.tenant_id, public, hook_url, credential)
            ),
            asyncio.create_task(drive_demo(base_url, store.api_key, say)),  # simulated drivers
        )
        yield
        say("\nStopping the demo...")
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await shop_runner.cleanup()

    return ctx


def _banner(public: str, store: DemoStore, state_dir: Path, shop_url: str) -> None:
    where = {
        "created": f"new, saved in {state_dir}/store.json",
        "reused": f"the same as last time, from {state_dir}/store.json",
        "new key": f"a NEW key (the saved one was gone), saved in {state_dir}/store.json",
    }[store.how]
    say(
        "\nLastmile Gateway demo is running, in dev mode (plain http and local webhook URLs are "
        "allowed).\n"
        f"  gateway:     {public}   (API description: {public}/openapi.json)\n"
        f"  store:       Demo Store ({store.tenant_id})\n"
        f"  API key:     {store.api_key}\n"
        f"               {where}\n"
        f"  try:         curl -H 'Authorization: Bearer {store.api_key}' {public}/v1/shipments\n"
        f"{console_banner(public)}\n"
        f"  Sample store page: {shop_url}   (a store's order page embedding the tracking widget)\n"
        f"  logs:        {log_file(state_dir)}   (--verbose prints them here too)\n"
        "  Ctrl-C stops everything.\n\n"
        "What happens, as it happens: → carrier webhook in, ✉ message out, ⇢ store webhook out."
    )
