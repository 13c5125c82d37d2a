"""What the customer tracking page reads, and the one thing a page view writes (the open)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import Location
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import events, shipments
from gateway.tenants.tables import tenants
from gateway.tracking.store_ratings import Rating
from gateway.tracking.tables import ratings, tracking_link_opens

# Views of the page closer together than this are one visit (reloads, the rating form's redirect).
VISIT_GAP: Final = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class TrackedShipment:
    id: str
    tenant_id: str
    store_name: str
    tracking_number: str
    carrier: str
    order_id: str | None
    status: str
    status_at: datetime | None
    estimated_delivery: date | None
    promised_by: datetime | None
    recipient: dict[str, Any]
    link_generation: int
    last_opened_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    status: str
    occurred_at: datetime
    location: Location | None
    description: str
    signed_by: str | None
    photo_url: str | None


@dataclass(frozen=True, slots=True)
class LinkOpens:
    count: int
    first_opened_at: datetime | None
    last_opened_at: datetime | None


async def load_shipment(conn: AsyncConnection, shipment_id: str) -> TrackedShipment | None:
    loaded = await _load(conn, shipment_id, with_rating=False)
    return loaded[0] if loaded else None


async def load_shipment_and_rating(
    conn: AsyncConnection, shipment_id: str
) -> tuple[TrackedShipment, Rating | None] | None:
    """The page's shipment and its rating in one query (every query counts on a hot page)."""
    return await _load(conn, shipment_id, with_rating=True)


async def _load(
    conn: AsyncConnection, shipment_id: str, *, with_rating: bool
) -> tuple[TrackedShipment, Rating | None] | None:
    columns: list[Any] = [
        shipments,
        tenants.c.name.label("store_name"),
        tracking_link_opens.c.last_opened_at,
    ]
    if with_rating:
        columns += [c.label(f"rating_{c.name}") for c in ratings.columns]
    query = (
        sa.select(*columns)
        .join(tenants, tenants.c.id == shipments.c.tenant_id)
        .outerjoin(tracking_link_opens, tracking_link_opens.c.shipment_id == shipments.c.id)
        .where(shipments.c.id == shipment_id)
    )
    if with_rating:
        query = query.outerjoin(ratings, ratings.c.shipment_id == shipments.c.id)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    shipment = _shipment(row)
    rating = None
    if with_rating and row["rating_id"] is not None:
        fields = {c.name: row[f"rating_{c.name}"] for c in ratings.columns}
        rating = Rating(**fields)
    return shipment, rating


def _shipment(row: sa.RowMapping) -> TrackedShipment:
    return TrackedShipment(
        id=row["id"],
        tenant_id=row["tenant_id"],
        store_name=row["store_name"],
        tracking_number=row["tracking_number"],
        carrier=row["carrier"],
        order_id=row["order_id"],
        status=row["status"],
        status_at=row["status_at"],
        estimated_delivery=row["estimated_delivery"],
        promised_by=row["promised_by"],
        recipient=row["recipient"] or {},
        link_generation=row["link_generation"],
        last_opened_at=row["last_opened_at"],
    )


async def load_events(conn: AsyncConnection, shipment_id: str) -> list[TrackedEvent]:
    """The timeline, oldest first (ties: arrival order)."""
    query = (
        sa.select(
            events.c.status,
            events.c.occurred_at,
            events.c.location,
            events.c.description,
            events.c.signed_by,
            events.c.photo_url,
        )
        .where(events.c.shipment_id == shipment_id)
        .order_by(events.c.occurred_at, events.c.id)
    )
    return [
        TrackedEvent(
            r.status,
            r.occurred_at,
            Location.from_json(r.location),
            r.description,
            r.signed_by,
            r.photo_url,
        )
        for r in (await conn.execute(query)).all()
    ]


def is_new_visit(last_opened_at: datetime | None, now: datetime) -> bool:
    return last_opened_at is None or now - last_opened_at >= VISIT_GAP


async def record_open(conn: AsyncConnection, shipment_id: str, now: datetime) -> None:
    """Count a visit: the first ever inserts the row, later ones count after VISIT_GAP.

    Safe to repeat and to race: the update only applies once per gap.
    """
    inserted = await conn.execute(
        insert_ignore(
            tracking_link_opens,
            conn.dialect.name,
            shipment_id=shipment_id,
            first_opened_at=now,
            last_opened_at=now,
            open_count=1,
        )
    )
    if inserted.rowcount == 1:
        return
    await conn.execute(
        tracking_link_opens.update()
        .where(
            tracking_link_opens.c.shipment_id == shipment_id,
            tracking_link_opens.c.last_opened_at <= now - VISIT_GAP,
        )
        .values(last_opened_at=now, open_count=tracking_link_opens.c.open_count + 1)
    )


async def link_opens(conn: AsyncConnection, shipment_id: str) -> LinkOpens:
    query = sa.select(tracking_link_opens).where(tracking_link_opens.c.shipment_id == shipment_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return LinkOpens(0, None, None)
    return LinkOpens(row.open_count, row.first_opened_at, row.last_opened_at)
