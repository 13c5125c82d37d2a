"""Store webhook endpoints: CRUD scoped to a tenant, secret rotation, disabling."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.ids import new_id
from gateway.store_webhooks.store_messages import ENDPOINTS
from gateway.store_webhooks.tables import webhook_attempts, webhook_endpoints, webhook_messages

ROTATION_OVERLAP: Final = timedelta(hours=24)


class DisabledReason(StrEnum):
    MANUAL = "manual"  # the store turned it off
    GONE = "gone"  # the receiver answered 410 Gone
    FAILING = "failing"  # every attempt failed for days


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    include_pii: bool
    alert_email: str | None
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, plus the previous one while its overlap lasts."""
        active = [self.secret]
        if self.previous_secret and self.previous_expires_at and self.previous_expires_at > now:
            active.append(self.previous_secret)
        return active


def _endpoint(row: sa.RowMapping) -> Endpoint:
    return Endpoint(
        id=row["id"],
        tenant_id=row["tenant_id"],
        url=row["url"],
        description=row["description"],
        event_types=list(row["event_types"]),
        enabled=bool(row["enabled"]),
        include_pii=bool(row["include_pii"]),
        alert_email=row["alert_email"],
        disabled_reason=row["disabled_reason"],
        disabled_at=row["disabled_at"],
        failing_since=row["failing_since"],
        previous_expires_at=row["previous_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        secret=row["secret"],
        previous_secret=row["previous_secret"],
    )


async def create(
    conn: AsyncConnection, tenant_id: str, fields: dict[str, Any], secret: str, now: datetime
) -> Endpoint:
    ENDPOINTS.drop(tenant_id)  # the route announces it to other processes after commit
    endpoint_id = new_id("whep")
    await conn.execute(
        webhook_endpoints.insert().values(
            id=endpoint_id,
            tenant_id=tenant_id,
            secret=secret,
            created_at=now,
            updated_at=now,
            disabled_reason=None if fields.get("enabled", True) else DisabledReason.MANUAL.value,
            disabled_at=None if fields.get("enabled", True) else now,
            **fields,
        )
    )
    created = await get(conn, tenant_id, endpoint_id)
    assert created is not None  # noqa: S101 - inserted just above
    return created


async def get(conn: AsyncConnection, tenant_id: str, endpoint_id: str) -> Endpoint | None:
    """The tenant's endpoint; None for an unknown id or another tenant's."""
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.tenant_id == tenant_id
    )
    row = (await conn.execute(query)).mappings().first()
    return _endpoint(row) if row else None


async def get_by_id(conn: AsyncConnection, endpoint_id: str) -> Endpoint | None:
    """For the worker only (the message already names its tenant's endpoint)."""
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    row = (await conn.execute(query)).mappings().first()
    return _endpoint(row) if row else None


async def list_for(conn: AsyncConnection, tenant_id: str) -> list[Endpoint]:
    query = (
        sa.select(webhook_endpoints)
        .where(webhook_endpoints.c.tenant_id == tenant_id)
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return [_endpoint(row) for row in (await conn.execute(query)).mappings()]


async def update(
    conn: AsyncConnection, endpoint: Endpoint, changes: dict[str, Any], now: datetime
) -> None:
    """Apply a PATCH. Turning it on clears why it was off; turning it off records `manual`."""
    ENDPOINTS.drop(endpoint.tenant_id)
    values = dict(changes, updated_at=now)
    if changes.get("enabled") is True and not endpoint.enabled:
        values.update(disabled_reason=None, disabled_at=None, failing_since=None)
    if changes.get("enabled") is False and endpoint.enabled:
        values.update(disabled_reason=DisabledReason.MANUAL.value, disabled_at=now)
    await conn.execute(
        webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint.id).values(**values)
    )


async def rotate_secret(
    conn: AsyncConnection, endpoint: Endpoint, secret: str, now: datetime
) -> datetime:
    """The new secret signs from now on; the current one keeps signing for 24 h."""
    expires_at = now + ROTATION_OVERLAP
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint.id)
        .values(
            secret=secret,
            previous_secret=endpoint.secret,
            previous_expires_at=expires_at,
            updated_at=now,
        )
    )
    return expires_at


async def delete(conn: AsyncConnection, endpoint_id: str) -> None:
    """The endpoint, its messages and its attempt log (queued jobs then find nothing)."""
    await conn.execute(
        webhook_attempts.delete().where(webhook_attempts.c.endpoint_id == endpoint_id)
    )
    await conn.execute(
        webhook_messages.delete().where(webhook_messages.c.endpoint_id == endpoint_id)
    )
    ENDPOINTS.drop()  # every store's copy: this one is named by id only, and deletes are rare
    await conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))


async def record_success(conn: AsyncConnection, endpoint_id: str) -> None:
    await conn.execute(
        webhook_endpoints.update()
        .where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failing_since.is_not(None)
        )
        .values(failing_since=None)
    )


async def record_failure(conn: AsyncConnection, endpoint_id: str, now: datetime) -> datetime:
    """Marks the start of a failure streak (kept if one is running); returns its start."""
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    query = sa.select(webhook_endpoints.c.failing_since).where(
        webhook_endpoints.c.id == endpoint_id
    )
    since: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return since or now


async def disable(
    conn: AsyncConnection, endpoint_id: str, reason: DisabledReason, now: datetime
) -> bool:
    """Turn an enabled endpoint off; False if it already was off."""
    ENDPOINTS.drop()  # other processes' copies expire within tenant_cache.TTL_S
    result = await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason.value, disabled_at=now, updated_at=now)
    )
    return bool(result.rowcount)
