"""Alerts owed to a store out of band (today: "we disabled your webhook endpoint")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.upsert import insert_ignore
from gateway.store_webhooks.tables import store_alerts


class AlertStatus(StrEnum):
    PENDING = "pending"  # not sent (yet): no address, or the email job has not run
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StoreAlert:
    id: str
    tenant_id: str
    kind: str
    subject_id: str
    detail: dict[str, Any]
    status: AlertStatus
    created_at: datetime


async def add(conn: AsyncConnection, alert: StoreAlert) -> None:
    """Insert once: the id is derived from the cause."""
    await conn.execute(
        insert_ignore(
            store_alerts,
            conn.dialect.name,
            id=alert.id,
            tenant_id=alert.tenant_id,
            kind=alert.kind,
            subject_id=alert.subject_id,
            detail=alert.detail,
            status=alert.status.value,
            created_at=alert.created_at,
        )
    )


async def get(conn: AsyncConnection, alert_id: str) -> StoreAlert | None:
    query = sa.select(store_alerts).where(store_alerts.c.id == alert_id)
    row = (await conn.execute(query)).mappings().first()
    return _alert(row) if row is not None else None


async def list_for(conn: AsyncConnection, tenant_id: str) -> list[StoreAlert]:
    query = (
        sa.select(store_alerts)
        .where(store_alerts.c.tenant_id == tenant_id)
        .order_by(store_alerts.c.created_at)
    )
    return [_alert(row) for row in (await conn.execute(query)).mappings()]


def _alert(row: sa.RowMapping) -> StoreAlert:
    return StoreAlert(
        id=row["id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        subject_id=row["subject_id"],
        detail=dict(row["detail"]),
        status=AlertStatus(row["status"]),
        created_at=row["created_at"],
    )


async def mark(conn: AsyncConnection, alert_id: str, status: AlertStatus, now: datetime) -> None:
    values: dict[str, Any] = {"status": status.value}
    if status is AlertStatus.SENT:
        values["sent_at"] = now
    await conn.execute(store_alerts.update().where(store_alerts.c.id == alert_id).values(**values))
