"""Bearer API-key authentication for the merchant API."""

from __future__ import annotations

from aiohttp import web

from gateway.platform.appkeys import DB
from gateway.platform.http.errors import ApiError
from gateway.tenants import store as tenants

TENANT_ID = web.RequestKey("tenant_id", str)


async def require_tenant(request: web.Request) -> str:
    """The calling store's tenant id. Raises a 401 ApiError for a missing or wrong key."""
    scheme, _, api_key = request.headers.get("Authorization", "").partition(" ")
    tenant_id = None
    if scheme.lower() == "bearer" and api_key.strip():
        async with request.app[DB].connect() as conn:
            tenant_id = await tenants.authenticate(conn, api_key.strip())
    if tenant_id is None:
        raise ApiError(401, "unauthorized", "missing or invalid API key")
    request[TENANT_ID] = tenant_id
    return tenant_id
