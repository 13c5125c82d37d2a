"""Proof-of-delivery rows: which images a delivery has in the proof storage, and who signed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers.tables import proofs
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import shipments


@dataclass(frozen=True, slots=True)
class Proof:
    id: str
    tenant_id: str
    shipment_id: str
    route_id: str
    driver_id: str
    recipient_name: str
    photo_key: str | None
    photo_type: str | None
    signature_key: str | None
    signature_type: str | None
    delivered_at: datetime
    created_at: datetime


def _proof(row: Any) -> Proof:
    return Proof(
        id=row.id,
        tenant_id=row.tenant_id,
        shipment_id=row.shipment_id,
        route_id=row.route_id,
        driver_id=row.driver_id,
        recipient_name=row.recipient_name,
        photo_key=row.photo_key,
        photo_type=row.photo_type,
        signature_key=row.signature_key,
        signature_type=row.signature_type,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


async def insert(conn: AsyncConnection, proof: Proof) -> bool:
    """False when the shipment already has a proof (one delivery, one proof)."""
    values = {k: getattr(proof, k) for k in Proof.__dataclass_fields__}
    result = await conn.execute(insert_ignore(proofs, conn.dialect.name, **values))
    return bool(result.rowcount)


async def for_shipment(conn: AsyncConnection, shipment_id: str) -> Proof | None:
    row = (await conn.execute(sa.select(proofs).where(proofs.c.shipment_id == shipment_id))).first()
    return _proof(row) if row else None


async def with_link_generation(
    conn: AsyncConnection, *, proof_id: str | None = None, shipment_id: str | None = None
) -> tuple[Proof, int] | None:
    """The proof (by id or by shipment) and its shipment's tracking-link generation: revoking
    the tracking links revokes the proof links minted with them."""
    query = sa.select(proofs, shipments.c.link_generation).join(
        shipments, shipments.c.id == proofs.c.shipment_id
    )
    if proof_id is not None:
        query = query.where(proofs.c.id == proof_id)
    else:
        query = query.where(proofs.c.shipment_id == shipment_id)
    row = (await conn.execute(query)).first()
    return (_proof(row), int(row.link_generation)) if row else None
