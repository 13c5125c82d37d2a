"""Stores (tenants) and their API keys. Keys are shown once and kept as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.ids import new_id
from gateway.tenants.tables import tenants

_KEY_PREFIX = "lm"
# Compared when the key id is unknown, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such key").digest()


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_tenant(conn: AsyncConnection, name: str) -> tuple[str, str]:
    """Returns (tenant_id, api_key). The key is not recoverable afterwards."""
    tenant_id = new_id("ten")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        tenants.insert().values(
            id=tenant_id,
            name=name,
            key_id=key_id,
            key_hash=_hash(secret),
            created_at=datetime.now(UTC),
        )
    )
    return tenant_id, f"{_KEY_PREFIX}_{key_id}_{secret}"


async def authenticate(conn: AsyncConnection, api_key: str) -> str | None:
    """The tenant id owning `api_key`, or None. Constant-time on the secret part."""
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _KEY_PREFIX or not key_id or not secret or len(key_id) > 32:
        return None
    row = (
        await conn.execute(
            sa.select(tenants.c.id, tenants.c.key_hash).where(tenants.c.key_id == key_id)
        )
    ).first()
    expected = row.key_hash if row else _DUMMY_HASH
    if hmac.compare_digest(expected, _hash(secret)) and row is not None:
        return str(row.id)
    return None


async def tenant_name(conn: AsyncConnection, tenant_id: str) -> str | None:
    result = await conn.execute(sa.select(tenants.c.name).where(tenants.c.id == tenant_id))
    return result.scalar_one_or_none()


async def find_by_name(conn: AsyncConnection, name: str) -> str | None:
    query = sa.select(tenants.c.id).where(tenants.c.name == name).order_by(tenants.c.created_at)
    return (await conn.execute(query)).scalars().first()


async def rotate_key(conn: AsyncConnection, tenant_id: str) -> str:
    """A new API key for the tenant; the old one stops working at once."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        tenants.update()
        .where(tenants.c.id == tenant_id)
        .values(key_id=key_id, key_hash=_hash(secret))
    )
    return f"{_KEY_PREFIX}_{key_id}_{secret}"
