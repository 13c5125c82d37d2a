"""The dispatcher's alerts: recorded as they happen (once per cause), listed newest first."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.model import AlertKind
from gateway.drivers.tables import driver_alerts
from gateway.platform.upsert import insert_ignore

A = driver_alerts.c


@dataclass(frozen=True, slots=True)
class NewAlert:
    cause: str  # what happened, uniquely: the same cause is recorded once
    tenant_id: str
    kind: AlertKind
    occurred_at: datetime
    data: dict[str, Any]
    driver_id: str | None = None
    route_id: str | None = None
    shipment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    seq: int
    id: str
    kind: AlertKind
    driver_id: str | None
    route_id: str | None
    shipment_id: str | None
    occurred_at: datetime
    created_at: datetime
    data: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """The fields the API shows."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "driver_id": self.driver_id,
            "route_id": self.route_id,
            "shipment_id": self.shipment_id,
            "occurred_at": self.occurred_at,
            "created_at": self.created_at,
            "data": self.data,
        }


def alert_id(cause: str) -> str:
    return "alr_" + hashlib.sha256(cause.encode()).hexdigest()[:32]


async def record(conn: AsyncConnection, alert: NewAlert) -> bool:
    """Insert once per cause; False when this cause was recorded before."""
    result = await conn.execute(
        insert_ignore(
            driver_alerts,
            conn.dialect.name,
            id=alert_id(alert.cause),
            tenant_id=alert.tenant_id,
            kind=alert.kind.value,
            driver_id=alert.driver_id,
            route_id=alert.route_id,
            shipment_id=alert.shipment_id,
            occurred_at=alert.occurred_at,
            data=alert.data,
            created_at=datetime.now(UTC),
        )
    )
    return bool(result.rowcount)


async def list_for_tenant(
    conn: AsyncConnection,
    tenant_id: str,
    since: datetime | None,
    before_seq: int | None,
    limit: int,
) -> list[Alert]:
    """Newest first: alerts recorded at or after `since`, older than the `before_seq` cursor."""
    query = sa.select(driver_alerts).where(A.tenant_id == tenant_id)
    if since is not None:
        query = query.where(A.created_at >= since)
    if before_seq is not None:
        query = query.where(A.seq < before_seq)
    rows = (await conn.execute(query.order_by(A.seq.desc()).limit(limit))).all()
    return [
        Alert(
            seq=row.seq,
            id=row.id,
            kind=AlertKind(row.kind),
            driver_id=row.driver_id,
            route_id=row.route_id,
            shipment_id=row.shipment_id,
            occurred_at=row.occurred_at,
            created_at=row.created_at,
            data=row.data,
        )
        for row in rows
    ]
