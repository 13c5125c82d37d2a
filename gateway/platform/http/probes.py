"""Probes, metrics and the API description: no auth, no side effects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.platform.appkeys import DB, REDIS

log = logging.getLogger(__name__)

READY_TIMEOUT_S: Final = 2.0
# The API description, generated once by the app factory from every area's operations.
OPENAPI_DOCUMENT: Final = web.AppKey("openapi_document", dict[str, Any])
# Run before each scrape: metrics read from the database (the same in every process).
MetricsRefresh = Callable[[web.Application], Awaitable[None]]
METRICS_REFRESH: Final = web.AppKey("metrics_refresh", Sequence[MetricsRefresh])
# On the private metrics listener: the gateway app whose metrics it serves.
SCRAPED_APP: Final = web.AppKey("scraped_app", web.Application)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), request.app[DB].connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unreachable"
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await request.app[REDIS].ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("readiness: redis unreachable (%s)", type(exc).__name__)
        checks["redis"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    app = request.app.get(SCRAPED_APP, request.app)  # the private listener scrapes the gateway
    for refresh in app.get(METRICS_REFRESH, ()):
        try:
            await refresh(app)
        except Exception as exc:  # the database away: the rest of the metrics still matter
            log.warning("metrics refresh failed (%s)", type(exc).__name__)
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOCUMENT])


ROUTES: Final = (
    web.get("/healthz", healthz),
    web.get("/readyz", readyz),
    web.get("/openapi.json", openapi),
)
METRICS_ROUTES: Final = (web.get("/metrics", metrics),)
METRICS_HOST: Final = "0.0.0.0"  # noqa: S104 - like prometheus_client: every interface


def metrics_listener(port: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context serving only /metrics on `port` (LASTMILE_METRICS_PORT): a private
    scrape port that the load balancer never exposes, instead of /metrics on the public one."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        private = web.Application()
        private[SCRAPED_APP] = app
        private.router.add_routes(METRICS_ROUTES)
        runner = web.AppRunner(private, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, METRICS_HOST, port).start()
        log.info("metrics served on port %d only", port)
        yield
        await runner.cleanup()

    return ctx
