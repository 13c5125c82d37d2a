"""The notification benchmark's world: a fake Twilio that stamps arrivals, a store, its parcels.

`notify_latency.py` runs the fake Twilio in its own process (``--serve-fake-twilio PORT``), so the
gateway's processes and the load are measured apart from it. The store either keeps a new store's
default settings (the figure users get) or turns waiting off ("instant": no quiet hours, no
collapse window, one rule out_for_delivery → SMS). Parcels are registered beforehand, each with
its own phone number, the only contact, so each event notifies one recipient on one channel.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
from benchlib import BENCH_DIR, HOST

from gateway.platform.embedded_redis import find_free_port
from gateway.platform.vault import install_keys, new_key

SECRET_KEY: Final = new_key()  # this run's: the store's connection is written here, read by serve
MAGIC_SUFFIXES: Final = frozenset({"0429", "0500", "1211", "1610", "1614"})  # fake failures
UPS_CREDENTIAL: Final = "bench-ups-credential"
REQUEST_TIMEOUT_S: Final = 10.0


# ------------------------------------------------------------------------------------------------
# The fake Twilio
# ------------------------------------------------------------------------------------------------


def serve_fake_twilio(port: int) -> None:
    from aiohttp import web

    from tests.fakes.fake_twilio import FakeTwilio

    fake = FakeTwilio()
    arrivals: dict[str, float] = {}

    @web.middleware
    async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.time()
        if request.method == "POST":
            to = str((await request.post()).get("To", ""))
            arrivals.setdefault(to, arrived)
        response: web.StreamResponse = await handler(request)
        return response

    async def dump(_request: web.Request) -> web.Response:
        return web.json_response({"arrivals": arrivals, "accepted": len(fake.requests)})

    app = fake.app()
    app.middlewares.append(stamp)
    app.router.add_get("/bench/arrivals", dump)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


async def collect(fake_url: str, expected: int, timeout_s: float) -> dict[str, float]:
    """The fake's arrivals by phone, once `expected` arrived or `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            async with session.get(f"{fake_url}/bench/arrivals") as resp:
                arrivals: dict[str, float] = (await resp.json())["arrivals"]
            if len(arrivals) >= expected or time.monotonic() > deadline:
                return arrivals
            await asyncio.sleep(0.2)


# ------------------------------------------------------------------------------------------------
# The store and its parcels
# ------------------------------------------------------------------------------------------------


def phones(count: int) -> list[str]:
    out, i = [], 0
    while len(out) < count:
        number = f"+1555{i:07d}"
        i += 1
        if number[-4:] not in MAGIC_SUFFIXES:
            out.append(number)
    return out


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon now, so default quiet hours (21:00-08:00)
    hold nothing back whenever the benchmark runs. (Etc/GMT+5 is UTC-5: POSIX signs.)"""
    hour = (now or datetime.now(UTC)).hour
    offset = 12 - hour  # local noon
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def prepare(
    database_url: str, count: int, *, instant: bool
) -> tuple[str, list[tuple[str, str]]]:
    """(webhook path, [(tracking number, phone)]) for a fresh store."""
    from gateway.carriers import store as connections
    from gateway.notifications import store_config as notification_config
    from gateway.notifications.rules import ChannelKind, Rule, TriggerEvent
    from gateway.notifications.settings import NotificationSettings
    from gateway.platform.db import create_engine
    from gateway.shipments.store import Registration, register
    from gateway.tenants import store as tenants
    from webhooks.base import AuthScheme, ConnectionAuth

    install_keys(SECRET_KEY)
    engine = create_engine(database_url)
    parcels = [(f"1ZBENCH{i:011d}", phone) for i, phone in enumerate(phones(count))]
    zone = daytime_zone()
    async with engine.begin() as conn:
        tenant_id, _api_key = await tenants.create_tenant(conn, "Bench Books")
        auth = ConnectionAuth(AuthScheme.STATIC_HEADER, "credential", (UPS_CREDENTIAL.encode(),))
        connection_id = await connections.create_connection(conn, tenant_id, "ups", auth)
        if instant:
            quick = NotificationSettings(quiet_hours=None, collapse_window_s=0)
            await notification_config.put_settings(conn, tenant_id, quick)
            rule = Rule("", "bench", frozenset({TriggerEvent.OUT_FOR_DELIVERY}), (ChannelKind.SMS,))
            await notification_config.create_rule(conn, tenant_id, rule)
    for start in range(0, count, 500):
        async with engine.begin() as conn:
            for tracking, phone in parcels[start : start + 500]:
                recipient = {"name": "Sam", "phone": phone, "timezone": zone}
                reg = Registration(tracking, "ups", None, recipient, None, None)
                await register(conn, tenant_id, reg)
    await engine.dispose()
    return f"/hooks/ups/{connection_id}", parcels


def ups_event(tracking_number: str) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "trackingNumber": tracking_number,
        "localActivityDate": now.strftime("%Y%m%d"),
        "localActivityTime": now.strftime("%H%M%S"),
        "activityLocation": {"city": "NEW YORK", "stateProvince": "NY", "country": "US"},
        "activityStatus": {
            "type": "I",
            "code": "OT",
            "description": "Out For Delivery Today",
            "descriptionCode": "021",
        },
        "scheduledDeliveryDate": now.strftime("%Y%m%d"),
        "gmtActivityDate": now.strftime("%Y%m%d"),
        "gmtActivityTime": now.strftime("%H%M%S"),
        "gmtOffset": "+00:00",
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(slots=True)
class Sent:
    at: dict[str, float]  # by phone: when its webhook POST started (epoch s)
    answers_s: list[float]
    errors: int


async def send_steadily(
    base_url: str, path: str, parcels: list[tuple[str, str]], rate: float
) -> Sent:
    """Open loop: parcel i is posted at start + i / rate, whatever the earlier ones do."""
    sent = Sent({}, [], 0)
    headers = {"credential": UPS_CREDENTIAL, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(tracking: str, phone: str) -> None:
            body = ups_event(tracking)
            began = time.time()
            sent.at[phone] = began
            try:
                async with session.post(base_url + path, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 202:
                        sent.errors += 1
            except (aiohttp.ClientError, TimeoutError):
                sent.errors += 1
            sent.answers_s.append(time.time() - began)

        start = time.monotonic()
        tasks = []
        for i, (tracking, phone) in enumerate(parcels):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(tracking, phone)))
        await asyncio.gather(*tasks)
    return sent


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Urls:
    gateway: str
    fake: str

    @classmethod
    def free(cls) -> Urls:
        return cls(f"http://{HOST}:{find_free_port()}", f"http://{HOST}:{find_free_port()}")

    @staticmethod
    def port(url: str) -> str:
        return url.rsplit(":", 1)[1]


def child_env(
    database_url: str, redis_url: str, urls: Urls, log_dir: Path | None
) -> dict[str, str]:
    return {
        **os.environ,
        "LASTMILE_DATABASE_URL": database_url,
        "LASTMILE_REDIS_URL": redis_url,
        "LASTMILE_PUBLIC_URL": urls.gateway,
        "LASTMILE_DEV": "1",
        "LASTMILE_SECRET_KEY": SECRET_KEY,
        "LASTMILE_LOG_LEVEL": "INFO" if log_dir else "WARNING",
        "LASTMILE_CHANNELS": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "twilio-test-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "LASTMILE_TWILIO_BASE_URL": urls.fake,
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR.parent), str(BENCH_DIR)]),
    }
