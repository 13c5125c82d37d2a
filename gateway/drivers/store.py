"""Drivers: create, read, edit, delete, and the per-request check behind every driver token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.model import Driver
from gateway.drivers.rules.pings import Ping
from gateway.drivers.tables import drivers
from gateway.platform.ids import new_id

D = drivers.c


def _driver(row: Any) -> Driver:
    return Driver(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        phone=row.phone,
        token_version=row.token_version,
        last_ping=row.last_ping,
        position_at=row.position_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create(
    conn: AsyncConnection, tenant_id: str, name: str, phone: str, now: datetime
) -> Driver:
    driver_id = new_id("drv")
    await conn.execute(
        drivers.insert().values(
            id=driver_id,
            tenant_id=tenant_id,
            name=name,
            phone=phone,
            token_version=1,
            created_at=now,
            updated_at=now,
        )
    )
    found = await get(conn, tenant_id, driver_id)
    assert found is not None  # noqa: S101 - inserted just above in this transaction
    return found


async def get(conn: AsyncConnection, tenant_id: str, driver_id: str) -> Driver | None:
    """The store's driver, None when unknown, another store's, or deleted."""
    query = sa.select(drivers).where(
        D.id == driver_id, D.tenant_id == tenant_id, D.deleted_at.is_(None)
    )
    row = (await conn.execute(query)).first()
    return _driver(row) if row else None


async def by_phone(conn: AsyncConnection, phone: str) -> list[Driver]:
    """Every store's driver with this number (an SMS to the gateway from a driver), not deleted."""
    query = sa.select(drivers).where(D.phone == phone, D.deleted_at.is_(None))
    return [_driver(row) for row in (await conn.execute(query)).all()]


async def list_for_tenant(
    conn: AsyncConnection, tenant_id: str, after: str | None, limit: int
) -> list[Driver]:
    """Oldest first; `after` is the last id of the previous page."""
    query = sa.select(drivers).where(D.tenant_id == tenant_id, D.deleted_at.is_(None))
    if after is not None:
        query = query.where(D.id > after)
    rows = (await conn.execute(query.order_by(D.id).limit(limit))).all()
    return [_driver(row) for row in rows]


async def update(
    conn: AsyncConnection, tenant_id: str, driver_id: str, changes: dict[str, Any], now: datetime
) -> Driver | None:
    result = await conn.execute(
        drivers.update()
        .where(D.id == driver_id, D.tenant_id == tenant_id, D.deleted_at.is_(None))
        .values(**changes, updated_at=now)
    )
    return await get(conn, tenant_id, driver_id) if result.rowcount else None


async def reset_tokens(
    conn: AsyncConnection, tenant_id: str, driver_id: str, now: datetime
) -> Driver | None:
    """Every token minted so far stops working on its next request; returns the driver."""
    return await update(conn, tenant_id, driver_id, {"token_version": D.token_version + 1}, now)


async def delete(conn: AsyncConnection, tenant_id: str, driver_id: str, now: datetime) -> bool:
    """Soft delete: history, routes and ratings keep pointing at the driver; tokens end."""
    result = await conn.execute(
        drivers.update()
        .where(D.id == driver_id, D.tenant_id == tenant_id, D.deleted_at.is_(None))
        .values(deleted_at=now, updated_at=now, token_version=D.token_version + 1)
    )
    return bool(result.rowcount)


async def lock_for_token(
    conn: AsyncConnection, driver_id: str, tenant_id: str, version: int
) -> Driver | None:
    """The driver a verified token speaks for, row-locked for the transaction (PostgreSQL; SQLite
    writers are serialized anyway), or None when deleted, reset since, or not that store's.

    Called inside every driver request's transaction, so a revocation applies to the next request
    and two requests of one driver never interleave.
    """
    query = (
        sa.select(drivers)
        .where(D.id == driver_id, D.tenant_id == tenant_id, D.deleted_at.is_(None))
        .with_for_update()
    )
    row = (await conn.execute(query)).first()
    if row is None or row.token_version != version:
        return None
    return _driver(row)


async def lock(conn: AsyncConnection, driver_id: str) -> Driver | None:
    """The driver row, locked like a ping batch locks it (jobs acting on a driver's route)."""
    query = sa.select(drivers).where(D.id == driver_id).with_for_update()
    row = (await conn.execute(query)).first()
    return _driver(row) if row else None


async def save_position(
    conn: AsyncConnection, driver_id: str, last_ping: dict[str, Any], position_at: datetime
) -> None:
    await conn.execute(
        drivers.update()
        .where(D.id == driver_id)
        .values(last_ping=last_ping, position_at=position_at)
    )


async def last_ping(conn: AsyncConnection, driver_id: str) -> Ping | None:
    """The driver's newest accepted ping (the database's copy of the live position)."""
    query = sa.select(D.last_ping).where(D.id == driver_id)
    stored = (await conn.execute(query)).scalar_one_or_none()
    return Ping.from_json(stored) if stored else None


async def names(conn: AsyncConnection, driver_ids: list[str]) -> dict[str, str]:
    if not driver_ids:
        return {}
    query = sa.select(D.id, D.name).where(D.id.in_(driver_ids))
    return {row.id: row.name for row in (await conn.execute(query)).all()}
