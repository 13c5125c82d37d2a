"""Driver token authentication for `/v1/driver/*`: fail closed, one answer for every failure.

Two steps. `driver_claims` checks the JWT's signature and times before any work is done (the
secret comes from a per-process cache of `driver_keys`). `require_driver`, inside the request's
transaction, checks the driver row: deleted, reset since (token version) or another store's all
end in the same 401, on the very next request.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store as driver_store
from gateway.drivers import tokens
from gateway.drivers.model import Driver
from gateway.drivers.store_keys import KeyCache
from gateway.drivers.tokens import DriverClaims
from gateway.platform.appkeys import CLOCK, DB
from gateway.platform.http.errors import ApiError

DRIVER_KEYS: Final = web.AppKey("driver_keys", KeyCache)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "missing or invalid driver token")


async def driver_claims(request: web.Request) -> DriverClaims:
    """The verified claims of the request's bearer token. Raises a 401 ApiError."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > tokens.MAX_TOKEN_CHARS:
        raise unauthorized()
    kid = tokens.claimed_kid(token)
    secrets = await request.app[DRIVER_KEYS].secrets_for(request.app[DB], kid)
    claims = tokens.verify(token, secrets, request.app[CLOCK].now())
    if claims is None:
        raise unauthorized()
    return claims


async def require_driver(conn: AsyncConnection, claims: DriverClaims) -> Driver:
    """The driver, row-locked for the transaction. Raises a 401 ApiError if the token is revoked."""
    driver = await driver_store.lock_for_token(
        conn, claims.driver_id, claims.tenant_id, claims.version
    )
    if driver is None:
        raise unauthorized()
    return driver
