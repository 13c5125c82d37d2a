"""`lastmile demo`: the whole gateway on one machine, with a store and carrier events to watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
import click
from aiohttp import web

from gateway.app import create_app
from gateway.carriers import store as connections
from gateway.notifications.demo_outbox import demo_worker_ctx
from gateway.notifications.settings import NotificationSettings
from gateway.notifications.store_config import put_settings
from gateway.platform.appkeys import DB, SETTINGS
from gateway.platform.embedded_redis import EmbeddedRedis
from gateway.platform.migrate import upgrade
from gateway.platform.settings import Settings
from gateway.shipments.store import Registration, register
from gateway.tenants import store as tenants
from gateway.tracking.store_short_links import current_tracking_url
from gateway.worker import build_worker
from webhooks.base import AuthScheme, ConnectionAuth

log = logging.getLogger(__name__)

DEMO_STORE: Final = "Demo Store"
STEP_S: Final = 8.0
# (UPS activity type, code, description code, description), replayed in order for each parcel.
_UPS_STEPS: Final = (
    ("M", "MP", "", "Shipper created a label, UPS has not received the package yet."),
    ("I", "DP", "005", "Departed from Facility"),
    ("I", "OT", "021", "Out For Delivery Today"),
    ("D", "FS", "011", "DELIVERED"),
)


def run_demo(settings: Settings, *, host: str, port: int) -> None:
    with contextlib.ExitStack() as stack:
        redis_url = settings.redis_url
        if redis_url is None:
            redis_url = stack.enter_context(EmbeddedRedis())
        upgrade(settings.database_url)
        app = create_app(settings, redis_url=redis_url)
        app.cleanup_ctx.append(_worker(settings, redis_url))
        app.cleanup_ctx.append(_demo_store(f"http://{host}:{port}"))
        web.run_app(app, host=host, port=port, print=None, access_log=None)


def _worker(settings: Settings, redis_url: str) -> Any:
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


def _demo_store(base_url: str) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        credential = secrets.token_urlsafe(24)
        async with app[DB].begin() as conn:
            tenant_id = await tenants.find_by_name(conn, DEMO_STORE)
            if tenant_id is None:
                tenant_id, api_key = await tenants.create_tenant(conn, DEMO_STORE)
            else:
                api_key = await tenants.rotate_key(conn, tenant_id)
            auth = ConnectionAuth(AuthScheme.STATIC_HEADER, "credential", (credential.encode(),))
            connection_id = await connections.create_connection(conn, tenant_id, "ups", auth)
            # Every step of the demo parcel is texted at once, whatever the time of day.
            quick = NotificationSettings(quiet_hours=None, collapse_window_s=0)
            await put_settings(conn, tenant_id, quick)
        hook_url = f"{base_url}/hooks/ups/{connection_id}"
        task = asyncio.create_task(_replay_forever(app, tenant_id, hook_url, credential))
        public = app[SETTINGS].public_url
        click.echo(
            "\nLastmile Gateway demo is running.\n"
            f"  gateway:     {public}/readyz  (API description: {public}/openapi.json)\n"
            f"  store:       {DEMO_STORE} ({tenant_id})\n"
            f"  API key:     {api_key}\n"
            f"  try:         curl -H 'Authorization: Bearer {api_key}' "
            f"'{public}/v1/shipments?tracking_number=<a demo parcel below>'\n"
            "  Ctrl-C stops everything.\n"
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


async def _replay_forever(
    app: web.Application, tenant_id: str, hook_url: str, credential: str
) -> None:
    """One parcel after another walks from label to doorstep, pushed as real UPS webhooks."""
    async with aiohttp.ClientSession() as session:
        while True:
            tracking_number = "1ZDEMO" + secrets.token_hex(6).upper()
            async with app[DB].begin() as conn:
                shipment_id = await register(conn, tenant_id, _registration(tracking_number))
                page = await current_tracking_url(
                    conn, app[SETTINGS].public_url, shipment_id, datetime.now(UTC)
                )
            click.echo(
                f"  demo parcel {tracking_number}: label created, updates every {STEP_S:.0f}s"
            )
            click.echo(f"  customer tracking page: {page}")
            outbox = f"{app[SETTINGS].public_url}/v1/notifications?shipment_id={shipment_id}"
            click.echo(f"  its notifications (API key above): {outbox}")
            for step in _UPS_STEPS:
                body = json.dumps(_ups_event(tracking_number, *step), separators=(",", ":"))
                headers = {"credential": credential, "Content-Type": "application/json"}
                try:
                    async with session.post(hook_url, data=body, headers=headers) as response:
                        log.info("demo %s %s -> HTTP %d", tracking_number, step[3], response.status)
                except aiohttp.ClientError as exc:
                    log.warning("demo replay failed: %s", type(exc).__name__)
                await asyncio.sleep(STEP_S)


def _registration(tracking_number: str) -> Registration:
    return Registration(
        tracking_number=tracking_number,
        carrier="ups",
        order_id="DEMO-" + tracking_number[-4:],
        recipient={
            "name": "Alex Rivera",
            "phone": "+15555550123",
            "email": "alex@example.com",
            "push_tokens": [],
            "locale": "en-US",
            "timezone": "America/New_York",
        },
        destination={
            "address": "350 Fifth Avenue, New York, NY 10118",
            "lat": 40.7484,
            "lon": -73.9857,
        },
        promised_by=datetime.now(UTC) + timedelta(hours=4),
    )


def _ups_event(
    tracking_number: str, kind: str, code: str, desc_code: str, text: str
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    local = now - timedelta(hours=5)
    return {
        "trackingNumber": tracking_number,
        "localActivityDate": local.strftime("%Y%m%d"),
        "localActivityTime": local.strftime("%H%M%S"),
        "activityLocation": {
            "city": "NEW YORK",
            "stateProvince": "NY",
            "postalCode": "10118",
            "country": "US",
        },
        "activityStatus": {
            "type": kind,
            "code": code,
            "description": text,
            "descriptionCode": desc_code,
        },
        "scheduledDeliveryDate": local.strftime("%Y%m%d"),
        "actualDeliveryDate": "",
        "actualDeliveryTime": "",
        "gmtActivityDate": now.strftime("%Y%m%d"),
        "gmtActivityTime": now.strftime("%H%M%S"),
        "gmtOffset": "-05:00",
        "deliveryStartTime": "",
        "deliveryEndTime": "",
        "deliveryTimeDescription": "",
        "receivedBy": "RIVERA" if kind == "D" else "",
    }
