"""Merchant API: store webhook endpoints (`/v1/webhook-endpoints`), scoped to the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.appkeys import CLOCK, DB, REDIS, RELAY, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.http.query import is_ascii_digits
from gateway.platform.ids import new_id
from gateway.platform.names import Job
from gateway.platform.outbox import add_job
from gateway.platform.tenant_cache import announce
from gateway.store_webhooks import store as endpoints
from gateway.store_webhooks import store_messages as messages
from gateway.store_webhooks.schemas import (
    WebhookAttemptList,
    WebhookAttemptOut,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookReplayIn,
    WebhookReplayOut,
    WebhookSecretOut,
)
from gateway.store_webhooks.signing import new_secret
from gateway.store_webhooks.ssrf import UnsafeURL, check_resolves_public, check_url
from gateway.store_webhooks.store import Endpoint
from gateway.tenants.auth import require_tenant

TAG = "webhooks"
ITEM: Final = "/v1/webhook-endpoints/{id}"
MAX_ATTEMPTS_LISTED: Final = 200


async def create_endpoint(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, WebhookEndpointIn)
    await _check_url(request, body.url)
    secret = new_secret()
    fields = body.model_dump(mode="json")
    async with request.app[DB].begin() as conn:
        endpoint = await endpoints.create(conn, tenant_id, fields, secret, _now(request))
    await announce(request.app[REDIS], messages.ENDPOINTS.name, tenant_id)
    out = WebhookEndpointCreated(**_out(endpoint, _now(request)).model_dump(), secret=secret)
    return web.json_response(out.model_dump(mode="json"), status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        found = await endpoints.list_for(conn, tenant_id)
    out = WebhookEndpointList(endpoints=[_out(e, _now(request)) for e in found])
    return web.json_response(out.model_dump(mode="json"))


async def get_endpoint(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
    return web.json_response(_out(endpoint, _now(request)).model_dump(mode="json"))


async def patch_endpoint(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, WebhookEndpointPatch)
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "url" in changes:
        await _check_url(request, changes["url"])
    async with request.app[DB].begin() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
        await endpoints.update(conn, endpoint, changes, _now(request))
        if changes.get("enabled") is False:
            await messages.mark_endpoint_missed(conn, endpoint.id)
        updated = await _endpoint(conn, tenant_id, request)
    await announce(request.app[REDIS], messages.ENDPOINTS.name, tenant_id)
    return web.json_response(_out(updated, _now(request)).model_dump(mode="json"))


async def delete_endpoint(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
        await endpoints.delete(conn, endpoint.id)
    await announce(request.app[REDIS], messages.ENDPOINTS.name, tenant_id)
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    secret = new_secret()
    async with request.app[DB].begin() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
        expires_at = await endpoints.rotate_secret(conn, endpoint, secret, _now(request))
    out = WebhookSecretOut(secret=secret, previous_secret_expires_at=expires_at)
    return web.json_response(out.model_dump(mode="json"))


async def list_attempts(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    limit = _limit(request.query.get("limit", "50"))
    async with request.app[DB].connect() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
        rows = await messages.list_attempts(
            conn, endpoint.id, limit=limit, message_id=request.query.get("message_id")
        )
    attempts = [WebhookAttemptOut.model_validate(row, from_attributes=True) for row in rows]
    return web.json_response(WebhookAttemptList(attempts=attempts).model_dump(mode="json"))


async def replay(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, WebhookReplayIn)
    replay_id = new_id("rpl")
    async with request.app[DB].begin() as conn:
        endpoint = await _endpoint(conn, tenant_id, request)
        if not endpoint.enabled:
            raise ApiError(409, "endpoint_disabled", "enable the endpoint before replaying")
        ids = await messages.replay(conn, endpoint.id, body.since, _now(request))
        for message_id in ids:
            await add_job(
                conn, Job.DELIVER_WEBHOOK, f"webhook:{message_id}:{replay_id}", message_id
            )
    request.app[RELAY].wake()
    out = WebhookReplayOut(replayed=len(ids), message_ids=ids)
    return web.json_response(out.model_dump(mode="json"), status=202)


async def _endpoint(conn: AsyncConnection, tenant_id: str, request: web.Request) -> Endpoint:
    endpoint = await endpoints.get(conn, tenant_id, request.match_info["id"])
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


async def _check_url(request: web.Request, url: str) -> None:
    """Raises a 422 ApiError naming why the URL may not be called."""
    dev = request.app[SETTINGS].dev
    try:
        await check_resolves_public(check_url(url, dev=dev), dev=dev)
    except UnsafeURL as exc:
        raise ApiError(422, "invalid_url", exc.reason) from None


def _limit(raw: str) -> int:
    if not is_ascii_digits(raw) or not 1 <= int(raw) <= MAX_ATTEMPTS_LISTED:
        raise ApiError(400, "invalid_parameter", f"limit must be 1 to {MAX_ATTEMPTS_LISTED}")
    return int(raw)


def _now(request: web.Request) -> datetime:
    return request.app[CLOCK].now()


def _out(endpoint: Endpoint, now: datetime) -> WebhookEndpointOut:
    rotating = endpoint.previous_expires_at
    return WebhookEndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=endpoint.event_types,
        enabled=endpoint.enabled,
        include_pii=endpoint.include_pii,
        alert_email=endpoint.alert_email,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        previous_secret_expires_at=rotating if rotating and rotating > now else None,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "POST",
        "/v1/webhook-endpoints",
        create_endpoint,
        summary="Add a webhook endpoint; returns its signing secret (shown once)",
        tag=TAG,
        body=WebhookEndpointIn,
        response=WebhookEndpointCreated,
        status=201,
    ),
    Operation(
        "GET",
        "/v1/webhook-endpoints",
        list_endpoints,
        summary="Every webhook endpoint of the store",
        tag=TAG,
        response=WebhookEndpointList,
    ),
    Operation(
        "GET",
        ITEM,
        get_endpoint,
        summary="One webhook endpoint",
        tag=TAG,
        response=WebhookEndpointOut,
    ),
    Operation(
        "PATCH",
        ITEM,
        patch_endpoint,
        summary="Change a webhook endpoint; enabled=true turns a disabled one back on",
        tag=TAG,
        body=WebhookEndpointPatch,
        response=WebhookEndpointOut,
    ),
    Operation(
        "DELETE",
        ITEM,
        delete_endpoint,
        summary="Delete a webhook endpoint and its messages",
        tag=TAG,
        status=204,
    ),
    Operation(
        "POST",
        ITEM + "/rotate-secret",
        rotate_secret,
        summary="New signing secret; the previous one keeps signing for 24 hours",
        tag=TAG,
        response=WebhookSecretOut,
    ),
    Operation(
        "GET",
        ITEM + "/attempts",
        list_attempts,
        summary="Delivery attempts, newest first: status code, latency, response head, next retry",
        tag=TAG,
        response=WebhookAttemptList,
        query=("limit", "message_id"),
    ),
    Operation(
        "POST",
        ITEM + "/replay",
        replay,
        summary="Re-send every message not delivered (failed, or missed while disabled) since then",
        tag=TAG,
        body=WebhookReplayIn,
        response=WebhookReplayOut,
        status=202,
        errors=(409,),  # the endpoint is disabled
    ),
)
