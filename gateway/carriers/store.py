"""Carrier connections: which tenant a webhook URL belongs to and how it authenticates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.carriers.tables import carrier_connections
from gateway.platform.ids import new_id
from webhooks.base import AuthScheme, ConnectionAuth


@dataclass(frozen=True, slots=True)
class CarrierConnection:
    id: str
    tenant_id: str
    carrier: str
    auth: ConnectionAuth
    created_at: datetime


def _connection(row: sa.RowMapping) -> CarrierConnection:
    auth = ConnectionAuth(
        scheme=AuthScheme(row["scheme"]),
        header=row["header"],
        secrets=tuple(s.encode() for s in row["secrets"]),
    )
    return CarrierConnection(row["id"], row["tenant_id"], row["carrier"], auth, row["created_at"])


async def create_connection(
    conn: AsyncConnection, tenant_id: str, carrier: str, auth: ConnectionAuth
) -> str:
    connection_id = new_id("cc")
    await conn.execute(
        carrier_connections.insert().values(
            id=connection_id,
            tenant_id=tenant_id,
            carrier=carrier,
            scheme=auth.scheme.value,
            header=auth.header,
            secrets=[s.decode() for s in auth.secrets],
            created_at=datetime.now(UTC),
        )
    )
    return connection_id


async def get_connection(
    conn: AsyncConnection, connection_id: str, carrier: str
) -> CarrierConnection | None:
    row = (
        (
            await conn.execute(
                sa.select(carrier_connections).where(
                    carrier_connections.c.id == connection_id,
                    carrier_connections.c.carrier == carrier,
                )
            )
        )
        .mappings()
        .first()
    )
    return _connection(row) if row else None


async def list_for_tenant(conn: AsyncConnection, tenant_id: str) -> list[CarrierConnection]:
    query = (
        sa.select(carrier_connections)
        .where(carrier_connections.c.tenant_id == tenant_id)
        .order_by(carrier_connections.c.created_at, carrier_connections.c.id)
    )
    return [_connection(row) for row in (await conn.execute(query)).mappings()]


async def get_for_tenant(
    conn: AsyncConnection, tenant_id: str, connection_id: str
) -> CarrierConnection | None:
    query = sa.select(carrier_connections).where(
        carrier_connections.c.id == connection_id, carrier_connections.c.tenant_id == tenant_id
    )
    row = (await conn.execute(query)).mappings().first()
    return _connection(row) if row else None


async def replace_auth(
    conn: AsyncConnection, tenant_id: str, connection_id: str, auth: ConnectionAuth
) -> bool:
    """New credentials for an existing connection (its webhook URL stays the same)."""
    result = await conn.execute(
        carrier_connections.update()
        .where(
            carrier_connections.c.id == connection_id,
            carrier_connections.c.tenant_id == tenant_id,
        )
        .values(
            scheme=auth.scheme.value,
            header=auth.header,
            secrets=[s.decode() for s in auth.secrets],
        )
    )
    return bool(result.rowcount)


async def delete(conn: AsyncConnection, tenant_id: str, connection_id: str) -> bool:
    result = await conn.execute(
        carrier_connections.delete().where(
            carrier_connections.c.id == connection_id,
            carrier_connections.c.tenant_id == tenant_id,
        )
    )
    return bool(result.rowcount)
