"""Ratings: one per shipment, created or edited within the edit window, listed per tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.ids import new_id
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import shipments
from gateway.tracking.rules import EDIT_WINDOW, RatingInput, RatingLocked
from gateway.tracking.tables import ratings


@dataclass(frozen=True, slots=True)
class Rating:
    id: str
    tenant_id: str
    shipment_id: str
    driver_id: str | None
    score: int
    comment: str | None
    source: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ListedRating:
    rating: Rating
    tracking_number: str
    carrier: str


def _rating(row: sa.RowMapping) -> Rating:
    return Rating(
        id=row["id"],
        tenant_id=row["tenant_id"],
        shipment_id=row["shipment_id"],
        driver_id=row["driver_id"],
        score=row["score"],
        comment=row["comment"],
        source=row["source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def get_for_shipment(conn: AsyncConnection, shipment_id: str) -> Rating | None:
    query = sa.select(ratings).where(ratings.c.shipment_id == shipment_id)
    row = (await conn.execute(query)).mappings().first()
    return _rating(row) if row else None


async def save(
    conn: AsyncConnection,
    tenant_id: str,
    shipment_id: str,
    given: RatingInput,
    now: datetime,
    driver_id: str | None = None,
) -> tuple[Rating, bool]:
    """Create the shipment's rating, or edit it within EDIT_WINDOW: (rating, created).
    `driver_id`: the store's own driver who delivered it (None for a carrier).

    Raises RatingLocked when the existing rating is older than the window.
    """
    values = {"score": given.score, "comment": given.comment, "source": given.source.value}
    inserted = await conn.execute(
        insert_ignore(
            ratings,
            conn.dialect.name,
            id=new_id("rat"),
            tenant_id=tenant_id,
            shipment_id=shipment_id,
            driver_id=driver_id,
            created_at=now,
            updated_at=now,
            **values,
        )
    )
    created = inserted.rowcount == 1
    if not created:
        edited = await conn.execute(
            ratings.update()
            .where(ratings.c.shipment_id == shipment_id, ratings.c.created_at > now - EDIT_WINDOW)
            .values(updated_at=now, **values)
        )
        if edited.rowcount == 0:
            raise RatingLocked(shipment_id)
    rating = await get_for_shipment(conn, shipment_id)
    assert rating is not None  # noqa: S101 - written just above in this transaction
    return rating, created


async def list_for_tenant(
    conn: AsyncConnection, tenant_id: str, since: datetime | None, limit: int
) -> list[ListedRating]:
    """Ratings created or edited at or after `since`, oldest change first."""
    query = (
        sa.select(ratings, shipments.c.tracking_number, shipments.c.carrier)
        .join(shipments, shipments.c.id == ratings.c.shipment_id)
        .where(ratings.c.tenant_id == tenant_id)
        .order_by(ratings.c.updated_at, ratings.c.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(ratings.c.updated_at >= since)
    rows = (await conn.execute(query)).mappings()
    return [ListedRating(_rating(row), row["tracking_number"], row["carrier"]) for row in rows]
