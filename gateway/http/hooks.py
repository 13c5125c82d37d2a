"""Carrier webhooks: bounded read, verify, parse, one committed transaction, 202."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from aiohttp import web

from gateway.appkeys import CLOCK, CONNECTIONS, INGEST, RELAY
from gateway.domain.events import CanonicalEvent, Status
from gateway.http.errors import ApiError, error_response
from gateway.metrics import (
    EVENTS_ACCEPTED,
    EVENTS_DUPLICATE,
    UNKNOWN_STATUS_CODES,
    WEBHOOK_REQUESTS,
)
from gateway.store.ingest import IngestRequest
from webhooks.base import BadPayload, BadSignature
from webhooks.registry import CARRIERS

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 1024 * 1024
# Never kept with the raw payload: credentials and cookies.
_DROPPED_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
_seen_unknown: set[tuple[str, str]] = set()  # log each unknown code once per process


def _unauthorized() -> ApiError:
    # One answer for every auth failure, so a caller learns nothing about which check failed.
    return ApiError(401, "unauthorized", "request could not be authenticated")


async def _read_bounded(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "body exceeds 1 MiB")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "body exceeds 1 MiB")
    return bytes(body)


async def carrier_webhook(request: web.Request) -> web.Response:
    carrier = request.match_info["carrier"]
    adapter = CARRIERS.get(carrier)
    label = carrier if adapter else "other"
    try:
        body = await _read_bounded(request)
        connection_id = request.match_info["connection_id"]
        connection = await request.app[CONNECTIONS].get(connection_id, carrier)
        if adapter is None or connection is None:
            raise _unauthorized()
        try:
            adapter.verify(request.headers, body, connection.auth, now=request.app[CLOCK].now())
        except BadSignature:
            raise _unauthorized() from None
        try:
            events = adapter.parse(body)
        except BadPayload:
            # The reason stays out of the body: it could quote the payload.
            raise ApiError(
                400, "unparsable_payload", f"{carrier} payload could not be parsed"
            ) from None
    except ApiError as exc:
        WEBHOOK_REQUESTS.labels(label, exc.code).inc()
        return error_response(exc.status, exc.code, exc.message)

    _count_unknown(carrier, events)
    stored_headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in _DROPPED_HEADERS and k.lower() != connection.auth.header.lower()
    }
    result = await request.app[INGEST].submit(
        IngestRequest(connection.tenant_id, connection.id, carrier, stored_headers, body, events)
    )
    if result.changes:
        request.app[RELAY].wake()
    WEBHOOK_REQUESTS.labels(carrier, "accepted").inc()
    EVENTS_ACCEPTED.labels(carrier).inc(len(events))
    EVENTS_DUPLICATE.labels(carrier).inc(result.duplicates)
    return web.json_response({"accepted": len(events)}, status=202)


def _count_unknown(carrier: str, events: Sequence[CanonicalEvent]) -> None:
    for event in events:
        if event.status is Status.UNKNOWN:
            UNKNOWN_STATUS_CODES.labels(carrier, event.carrier_status_code[:32]).inc()
            if (carrier, event.carrier_status_code) not in _seen_unknown and len(
                _seen_unknown
            ) < 10_000:
                _seen_unknown.add((carrier, event.carrier_status_code))
                log.warning(
                    "unmapped %s status code %r kept as unknown", carrier, event.carrier_status_code
                )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/hooks/{carrier}/{connection_id}", carrier_webhook)
