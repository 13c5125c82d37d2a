"""The fault suite's cluster: real `lastmile serve` and `lastmile worker` processes, a real
redis-server that can be killed and started again empty on the same port, the restartable
PostgreSQL from tests/services.py, a fake Twilio and a store's webhook receiver (both in the
test process, on real sockets), and a carrier that retries until it hears 202.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import random
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.embedded_redis import EmbeddedRedis, find_free_port
from gateway.tenants.store import create_tenant
from tests.fakes.fake_twilio import FakeTwilio
from tests.processes.procs import Child, Children, clean_env, wait_ready
from tests.support import load_fixture

FIXTURE_TRACKING = "771203948265"
STARTUP_S = 60.0  # start-up on a loaded 2-core machine


def stable_port() -> int:
    """A free port below the ephemeral range: a server restarted on it cannot find it taken by
    some client connection's source port (as a port that `bind(0)` picked may be)."""
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(100):
        port = random.randrange(max(low - 12_000, 1024), low)  # noqa: S311 - not crypto
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return find_free_port()


class RestartableRedis:
    """A redis-server on a fixed port, without persistence: killed, it comes back empty."""

    def __init__(self) -> None:
        self.port = stable_port()
        self._server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._server = EmbeddedRedis(port=self.port)
        self._server.start()

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye to clients."""
        if self._server is not None:
            os.kill(self._server.pid, signal.SIGKILL)
            self._server.stop()
            self._server = None

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@dataclass
class Hooks:
    """The store's webhook receiver: records each delivery; can stall or fail the first ones."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (webhook-id, body)
    stall_first: int = 0
    stall_s: float = 0.0
    fail_first: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """End every stall now (so the test's teardown need not wait them out)."""
        self._released.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append((request.headers["webhook-id"], body))
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        if self.stall_first > 0:
            self.stall_first -= 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.stall_s)
        return web.Response(status=204)

    def ids(self) -> Counter[str]:
        return Counter(webhook_id for webhook_id, _ in self.received)


@dataclass
class Carrier:
    """FedEx pushing signed scans (out for delivery unless told); each retried until a 202."""

    hook_url: str
    secret: str
    statuses: Counter[int] = field(default_factory=Counter)  # every answer, 202 or not
    refused: int = 0  # connection errors (the gateway was down)

    def signed(self, tracking: str, case: str = "out_for_delivery") -> tuple[bytes, dict[str, str]]:
        fixture = load_fixture("fedex", case)
        body = fixture["request"]["body"].replace(FIXTURE_TRACKING, tracking).encode()
        signature = base64.b64encode(hmac.new(self.secret.encode(), body, hashlib.sha256).digest())
        headers = dict(fixture["request"]["headers"])
        headers[fixture["auth"]["header"]] = signature.decode()
        return body, headers

    async def push(
        self,
        http: aiohttp.ClientSession,
        tracking: str,
        within_s: float = 90,
        case: str = "out_for_delivery",
    ) -> None:
        body, headers = self.signed(tracking, case)
        deadline = time.monotonic() + within_s
        while True:
            try:
                async with http.post(self.hook_url, data=body, headers=headers) as response:
                    self.statuses[response.status] += 1
                    if response.status == 202:
                        return
                    wait_s = min(float(response.headers.get("Retry-After", "0.5")), 1.0)
            except (aiohttp.ClientError, TimeoutError):
                self.refused += 1
                wait_s = 0.2
            assert time.monotonic() < deadline, f"push {tracking} never accepted: {self.statuses}"
            await asyncio.sleep(wait_s)

    async def accepted(self, count: int, within_s: float = 30) -> None:
        """Until `count` pushes got their 202."""
        deadline = time.monotonic() + within_s
        while True:
            if self.statuses[202] >= count:
                return
            assert time.monotonic() < deadline, f"only {self.statuses[202]} accepted"
            await asyncio.sleep(0.02)

    async def push_all(
        self, http: aiohttp.ClientSession, trackings: list[str], case: str = "out_for_delivery"
    ) -> None:
        limit = asyncio.Semaphore(8)

        async def one(tracking: str) -> None:
            async with limit:
                await self.push(http, tracking, case=case)

        await asyncio.gather(*(one(t) for t in trackings))


@dataclass
class Cluster:
    """The processes of one fault test; `close()` stops every one of them."""

    directory: Path
    database_url: str
    redis: RestartableRedis
    twilio: FakeTwilio
    twilio_url: str
    procs: Children = field(init=False)
    gateway_port: int = field(default_factory=stable_port)

    def __post_init__(self) -> None:
        self.procs = Children(self.directory)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def env(self) -> dict[str, str]:
        return clean_env(
            LASTMILE_DATABASE_URL=self.database_url,
            LASTMILE_REDIS_URL=self.redis.url,
            LASTMILE_PUBLIC_URL=self.url,
            LASTMILE_DEV="1",
            LASTMILE_LOG_LEVEL="INFO",
            LASTMILE_OUTBOX_POLL_S="0.5",
            LASTMILE_CHANNELS="twilio",
            TWILIO_ACCOUNT_SID=self.twilio.account_sid,
            TWILIO_AUTH_TOKEN=self.twilio.auth_token,
            TWILIO_FROM_NUMBER="+15005550006",
            LASTMILE_TWILIO_BASE_URL=self.twilio_url,
        )

    async def serve(self, name: str = "serve") -> Child:
        """`lastmile serve` on the cluster's port (the same after a restart), once ready."""
        child = self.procs.spawn(
            name, ["serve", "--port", str(self.gateway_port)], self.env(), port=self.gateway_port
        )
        await wait_ready(child, STARTUP_S)
        return child

    async def worker(self, name: str = "worker") -> Child:
        child = self.procs.spawn(name, ["worker"], self.env())
        deadline = time.monotonic() + STARTUP_S
        while "Starting worker for" not in child.stderr():
            assert child.alive(), f"{name} died during startup\n{child.describe()}"
            assert time.monotonic() < deadline, f"{name} did not start\n{child.describe()}"
            await asyncio.sleep(0.1)
        return child

    def alive(self) -> None:
        dead = [c.name for c in self.procs.children if not c.alive() and c.popen.returncode != -9]
        assert not dead, f"{dead} exited on their own\n{self.procs.report()}"

    def close(self) -> None:
        self.procs.close()


@dataclass
class Store:
    api_key: str
    carrier: Carrier

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def open_store(
    http: aiohttp.ClientSession,
    cluster: Cluster,
    engine: AsyncEngine,
    hooks_url: str,
    events: tuple[str, ...] = ("out_for_delivery",),
    **settings: Any,
) -> Store:
    """A store with SMS on `events`, a FedEx connection and a webhook endpoint."""
    async with engine.begin() as conn:
        _, api_key = await create_tenant(conn, "Fault Books")
    auth = {"Authorization": f"Bearer {api_key}"}
    fixture = load_fixture("fedex", "out_for_delivery")
    rule = {"name": "ofd", "events": list(events), "channels": ["sms"]}
    endpoint = {"url": hooks_url, "event_types": ["shipment.status_changed"]}
    calls = [
        ("PATCH", "/v1/notification-settings", {"quiet_hours": None, **settings}),
        ("POST", "/v1/notification-rules", rule),
        ("POST", "/v1/webhook-endpoints", endpoint),
        ("POST", "/v1/carrier-connections", {"carrier": "fedex", "auth": fixture["auth"]}),
    ]
    answer: dict[str, Any] = {}
    for method, path, body in calls:
        async with http.request(method, cluster.url + path, json=body, headers=auth) as response:
            assert response.status in (200, 201), await response.text()
            answer = await response.json()
    hook_url = cluster.url + urlsplit(answer["webhook_url"]).path
    return Store(api_key, Carrier(hook_url, fixture["auth"]["secret"]))


def phone_for(tracking: str, suffix: str | None = None) -> str:
    """A phone per parcel; a magic `suffix` picks a fake Twilio behaviour (0408: stall)."""
    number = "+1555" + tracking[-7:]
    return number[:-4] + suffix if suffix else number


async def register(
    http: aiohttp.ClientSession, cluster: Cluster, store: Store, phones: dict[str, str]
) -> None:
    """One registered shipment per tracking number, its recipient reachable by SMS."""
    for tracking, phone in phones.items():
        recipient = {"name": "Kim", "phone": phone, "timezone": "UTC"}
        body = {"tracking_number": tracking, "carrier": "fedex", "recipient": recipient}
        url = cluster.url + "/v1/shipments"
        async with http.post(url, json=body, headers=store.headers) as response:
            assert response.status == 201, await response.text()
