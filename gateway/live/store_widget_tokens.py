"""Widget tokens in the database: issue, look up, revoke. Only tokens' hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.live import widget_rules
from gateway.live.tables import widget_tokens


@dataclass(frozen=True, slots=True)
class WidgetGrant:
    """What a valid widget token opens: one shipment, for one origin, until `expires_at`."""

    tenant_id: str
    shipment_id: str
    origin: str
    generation: int  # compared with the shipment's `link_generation`; revoking links bumps that
    expires_at: datetime


async def issue(conn: AsyncConnection, grant: WidgetGrant, now: datetime) -> str:
    """A new token for `grant`; the shipment's expired tokens are dropped on the way."""
    await conn.execute(
        widget_tokens.delete().where(
            widget_tokens.c.shipment_id == grant.shipment_id, widget_tokens.c.expires_at <= now
        )
    )
    token = widget_rules.new_token()  # 192 random bits: a collision is not a case to handle
    await conn.execute(
        widget_tokens.insert().values(
            token_hash=widget_rules.token_hash(token),
            tenant_id=grant.tenant_id,
            shipment_id=grant.shipment_id,
            origin=grant.origin,
            generation=grant.generation,
            created_at=now,
            expires_at=grant.expires_at,
        )
    )
    return token


async def lookup(conn: AsyncConnection, token: str, now: datetime) -> WidgetGrant | None:
    """The grant of a known, unexpired token, else None (unknown, expired, revoked alike)."""
    if not widget_rules.is_token(token):
        return None
    query = sa.select(
        widget_tokens.c.tenant_id,
        widget_tokens.c.shipment_id,
        widget_tokens.c.origin,
        widget_tokens.c.generation,
        widget_tokens.c.expires_at,
    ).where(widget_tokens.c.token_hash == widget_rules.token_hash(token))
    row = (await conn.execute(query)).first()
    if row is None or row.expires_at <= now:
        return None
    return WidgetGrant(row.tenant_id, row.shipment_id, row.origin, row.generation, row.expires_at)


async def revoke(conn: AsyncConnection, tenant_id: str, token: str) -> str | None:
    """Ends one token of this store at once; its shipment's id, or None: no such token."""
    if not widget_rules.is_token(token):
        return None
    where = (
        widget_tokens.c.token_hash == widget_rules.token_hash(token),
        widget_tokens.c.tenant_id == tenant_id,
    )
    query = sa.select(widget_tokens.c.shipment_id).where(*where)
    shipment_id: str | None = (await conn.execute(query)).scalar_one_or_none()
    if shipment_id is not None:
        await conn.execute(widget_tokens.delete().where(*where))
    return shipment_id
