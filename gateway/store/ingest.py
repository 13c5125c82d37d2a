"""The ingest transaction: raw payload, events, shipment state and outbox rows, all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import CanonicalEvent, Status
from gateway.domain.timeline import ShipmentState, apply_event
from gateway.ids import new_id
from gateway.store.outbox import add_job
from gateway.store.tables import events, raw_payloads, shipment_changes, shipments
from gateway.store.upsert import insert_ignore

SHIPMENT_CHANGED_JOB = "shipment_changed"


@dataclass(frozen=True, slots=True)
class IngestRequest:
    tenant_id: str
    connection_id: str
    carrier: str
    headers: Mapping[str, str]  # already stripped of credentials
    body: bytes
    events: Sequence[CanonicalEvent]


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int  # events new to the timeline
    duplicates: int
    changes: tuple[str, ...]  # shipment_changes ids, one per shipment whose state moved


async def ingest(
    conn: AsyncConnection, req: IngestRequest, *, now: datetime | None = None
) -> IngestResult:
    """Store one accepted carrier request inside the caller's transaction."""
    now = now or datetime.now(UTC)
    await conn.execute(
        raw_payloads.insert().values(
            id=new_id("raw"),
            tenant_id=req.tenant_id,
            connection_id=req.connection_id,
            carrier=req.carrier,
            headers=dict(req.headers),
            body=req.body,
            event_count=len(req.events),
            received_at=now,
        )
    )
    by_tracking: dict[str, list[CanonicalEvent]] = {}
    for event in req.events:
        by_tracking.setdefault(event.tracking_number, []).append(event)
    stored = duplicates = 0
    changes: list[str] = []
    for tracking_number, batch in by_tracking.items():
        shipment_id = await lock_or_create_shipment(
            conn, req.tenant_id, req.carrier, tracking_number, now
        )
        new_count, change = await add_events(conn, shipment_id, batch, now)
        stored += new_count
        duplicates += len(batch) - new_count
        if change:
            changes.append(change)
    return IngestResult(stored, duplicates, tuple(changes))


async def lock_or_create_shipment(
    conn: AsyncConnection, tenant_id: str, carrier: str, tracking_number: str, now: datetime
) -> str:
    """The shipment's id, row-locked on PostgreSQL so concurrent ingests apply in turn."""
    key = (
        shipments.c.tenant_id == tenant_id,
        shipments.c.carrier == carrier,
        shipments.c.tracking_number == tracking_number,
    )
    query = sa.select(shipments.c.id).where(*key).with_for_update()
    found = (await conn.execute(query)).scalar_one_or_none()
    if found is not None:
        return str(found)
    await conn.execute(
        insert_ignore(
            shipments,
            conn.dialect.name,
            id=new_id("shp"),
            tenant_id=tenant_id,
            carrier=carrier,
            tracking_number=tracking_number,
            registered=False,
            status=Status.UNKNOWN.value,
            created_at=now,
            updated_at=now,
        )
    )
    return str((await conn.execute(query)).scalar_one())


async def add_events(
    conn: AsyncConnection, shipment_id: str, batch: Sequence[CanonicalEvent], now: datetime
) -> tuple[int, str | None]:
    """Insert the new events of one shipment, enrich duplicates, move its state.

    Returns (events new to the timeline, shipment_changes id or None).
    """
    row = (
        await conn.execute(
            sa.select(
                shipments.c.status,
                shipments.c.status_at,
                shipments.c.estimated_delivery,
                shipments.c.eta_at,
            ).where(shipments.c.id == shipment_id)
        )
    ).one()
    before = ShipmentState(Status(row.status), row.status_at, row.estimated_delivery, row.eta_at)
    state, newest, new_count = before, None, 0
    for event in batch:
        identity = event.identity()
        if not await _insert_event(conn, shipment_id, identity, event, now):
            continue
        new_count += 1
        moved = apply_event(state, event.status, event.occurred_at, event.estimated_delivery)
        if moved != state:
            state, newest = moved, identity
    if state == before or newest is None:
        return new_count, None
    await conn.execute(
        shipments.update()
        .where(shipments.c.id == shipment_id)
        .values(
            status=state.status.value,
            status_at=state.status_at,
            estimated_delivery=state.estimated_delivery,
            eta_at=state.eta_at,
            updated_at=now,
        )
    )
    return new_count, await _record_change(conn, shipment_id, before, state, newest, now)


async def _insert_event(
    conn: AsyncConnection, shipment_id: str, identity: str, event: CanonicalEvent, now: datetime
) -> bool:
    """True when the event is new; a re-delivery only fills in missing proof of delivery."""
    data = event.to_json()
    result = await conn.execute(
        insert_ignore(
            events,
            conn.dialect.name,
            shipment_id=shipment_id,
            identity=identity,
            carrier=event.carrier,
            status=event.status.value,
            carrier_status_code=event.carrier_status_code,
            occurred_at=event.occurred_at,
            location=data["location"],
            description=event.description,
            estimated_delivery=event.estimated_delivery,
            signed_by=event.signed_by,
            photo_url=event.photo_url,
            received_at=now,
        )
    )
    if result.rowcount:
        return True
    if event.signed_by or event.photo_url:
        same = (events.c.shipment_id == shipment_id) & (events.c.identity == identity)
        await conn.execute(
            events.update()
            .where(same)
            .values(
                signed_by=sa.func.coalesce(events.c.signed_by, event.signed_by),
                photo_url=sa.func.coalesce(events.c.photo_url, event.photo_url),
            )
        )
    return False


async def _record_change(
    conn: AsyncConnection,
    shipment_id: str,
    before: ShipmentState,
    after: ShipmentState,
    identity: str,
    now: datetime,
) -> str:
    change_id = f"{shipment_id}:{identity}"
    await conn.execute(
        shipment_changes.insert().values(
            id=change_id,
            shipment_id=shipment_id,
            status_before=before.status.value,
            status_after=after.status.value,
            eta_before=before.estimated_delivery,
            eta_after=after.estimated_delivery,
            event_identity=identity,
            created_at=now,
        )
    )
    await add_job(conn, SHIPMENT_CHANGED_JOB, f"{SHIPMENT_CHANGED_JOB}:{change_id}", change_id)
    return change_id
