"""The drivers area's signing keys in the database, shared by every process.

The newest key signs (driver tokens, proof links); every key still in the table verifies. To
rotate, add a key (`lastmile drivers rotate-key`): tokens already out keep working. Retiring the
older keys (`--retire-old`) ends the tokens and links they signed; other processes notice within
`KeyCache.ttl_s`.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.drivers.tables import driver_keys
from gateway.platform.db import READ_ONLY
from gateway.platform.upsert import insert_ignore

FIRST_KID: Final = "d1"


_NEWEST = (
    sa.select(driver_keys.c.kid, driver_keys.c.secret)
    .order_by(driver_keys.c.created_at.desc(), driver_keys.c.kid.desc())
    .limit(1)
)


async def newest_key(conn: AsyncConnection) -> tuple[str, bytes] | None:
    """(kid, secret) of the key that signs now, or None before the first driver."""
    row = (await conn.execute(_NEWEST)).first()
    return (str(row.kid), bytes(row.secret)) if row else None


async def signing_key(conn: AsyncConnection) -> tuple[str, bytes]:
    """(kid, secret) of the newest key; makes the first key on first use (call in a write
    transaction: racing processes agree on one first key by its fixed kid)."""
    query = _NEWEST
    row = (await conn.execute(query)).first()
    if row is None:
        await conn.execute(
            insert_ignore(
                driver_keys,
                conn.dialect.name,
                kid=FIRST_KID,
                secret=secrets.token_bytes(32),
                created_at=datetime.now(UTC),
            )
        )
        row = (await conn.execute(query)).one()
    return str(row.kid), bytes(row.secret)


async def rotate(conn: AsyncConnection, *, retire_old: bool = False) -> str:
    """Add a key that signs from now on; returns its kid. `retire_old` deletes every older key."""
    await signing_key(conn)  # the first key exists, so the new one is never "first"
    kid = "d" + secrets.token_hex(6)
    await conn.execute(
        driver_keys.insert().values(
            kid=kid, secret=secrets.token_bytes(32), created_at=datetime.now(UTC)
        )
    )
    if retire_old:
        await conn.execute(driver_keys.delete().where(driver_keys.c.kid != kid))
    return kid


async def secret_of(conn: AsyncConnection, kid: str) -> bytes | None:
    query = sa.select(driver_keys.c.secret).where(driver_keys.c.kid == kid)
    secret = (await conn.execute(query)).scalar_one_or_none()
    return bytes(secret) if secret is not None else None


class KeyCache:
    """Verification secrets by kid, cached per process for `ttl_s` (a retired key stops
    verifying after at most that long); an unknown kid costs one primary-key lookup."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._secrets: dict[str, tuple[bytes, float]] = {}

    async def secrets_for(self, engine: AsyncEngine, kid: str | None) -> dict[str, bytes]:
        """{kid: secret} holding the key `kid` names if it exists (else empty)."""
        if kid is None:
            return {}
        cached = self._secrets.get(kid)
        now = time.monotonic()
        if cached is not None and now - cached[1] < self.ttl_s:
            return {kid: cached[0]}
        async with engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            secret = await secret_of(conn, kid)
        if secret is None:
            self._secrets.pop(kid, None)
            return {}
        if len(self._secrets) > 1000:  # only forged kids get here in numbers
            self._secrets.clear()
        self._secrets[kid] = (secret, now)
        return {kid: secret}
