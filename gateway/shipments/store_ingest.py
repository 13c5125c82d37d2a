"""The ingest transaction: raw payloads, events, shipment state and outbox rows, all or nothing.

Written for batches (gateway/shipments/writer.py commits the requests that arrive together): each
step is one statement for the whole batch, so the cost per request falls as load rises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import CanonicalEvent, Status
from gateway.domain.timeline import ShipmentState, apply_event
from gateway.platform.ids import new_id
from gateway.platform.names import Job
from gateway.platform.tables import outbox
from gateway.platform.upsert import insert_ignore
from gateway.shipments.tables import events, raw_payloads, shipment_changes, shipments

ShipmentKey = tuple[str, str, str]  # tenant_id, carrier, tracking_number


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
    changes: tuple[str, ...]  # shipment_changes ids of the shipments this request moved


@dataclass(slots=True)
class _Shipment:
    id: str
    before: ShipmentState
    state: ShipmentState
    newest: str | None = None  # identity of the event behind the latest state move
    requests: set[int] = field(default_factory=set)


async def ingest(
    conn: AsyncConnection, req: IngestRequest, *, now: datetime | None = None
) -> IngestResult:
    """Store one accepted carrier request inside the caller's transaction."""
    results = await conn.run_sync(lambda sync_conn: ingest_batch(sync_conn, [req], now=now))
    return results[0]


def ingest_batch(
    conn: sa.Connection, batch: Sequence[IngestRequest], *, now: datetime | None = None
) -> list[IngestResult]:
    """Store accepted carrier requests inside the caller's transaction, one result per request.

    Synchronous on purpose: PostgreSQL runs it through `AsyncConnection.run_sync`, SQLite in the
    ingest writer's own thread, so a whole batch costs one hop to the database thread, not one
    per statement.
    """
    now = now or datetime.now(UTC)
    conn.execute(raw_payloads.insert(), [_raw_row(req, now) for req in batch])
    keys = sorted({(r.tenant_id, r.carrier, e.tracking_number) for r in batch for e in r.events})
    if not keys:
        return [IngestResult(0, 0, ()) for _ in batch]
    found = _lock_shipments(conn, keys, now)
    new_rows, owners, repeats = _event_rows(batch, found, now)
    inserted = _insert_events(conn, new_rows)
    _enrich(conn, [r for r in new_rows if (r["shipment_id"], r["identity"]) not in inserted])
    _enrich(conn, repeats)
    stored = [0] * len(batch)
    for row in new_rows:
        if (row["shipment_id"], row["identity"]) in inserted:
            index = owners[(row["shipment_id"], row["identity"])]
            stored[index] += 1
            shipment = found[(batch[index].tenant_id, batch[index].carrier, row["tracking_number"])]
            _move(shipment, row)
    changes = _record_changes(conn, list(found.values()), now)
    return [
        IngestResult(
            stored[i],
            len(req.events) - stored[i],
            tuple(changes[s.id] for s in found.values() if i in s.requests and s.id in changes),
        )
        for i, req in enumerate(batch)
    ]


def _raw_row(req: IngestRequest, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("raw"),
        "tenant_id": req.tenant_id,
        "connection_id": req.connection_id,
        "carrier": req.carrier,
        "headers": dict(req.headers),
        "body": req.body,
        "event_count": len(req.events),
        "received_at": now,
    }


def _lock_shipments(
    conn: sa.Connection, keys: list[ShipmentKey], now: datetime
) -> dict[ShipmentKey, _Shipment]:
    """Create missing shipments, then read and (PostgreSQL) row-lock all, in one sorted order."""
    conn.execute(
        insert_ignore(shipments, conn.dialect.name),
        [
            {
                "id": new_id("shp"),
                "tenant_id": tenant_id,
                "carrier": carrier,
                "tracking_number": number,
                "registered": False,
                "status": Status.UNKNOWN.value,
                "created_at": now,
                "updated_at": now,
            }
            for tenant_id, carrier, number in keys
        ],
    )
    query = (
        sa.select(
            shipments.c.id,
            shipments.c.tenant_id,
            shipments.c.carrier,
            shipments.c.tracking_number,
            shipments.c.status,
            shipments.c.status_at,
            shipments.c.estimated_delivery,
            shipments.c.eta_at,
        )
        # One IN per column (not a row-value IN, which SQLite answers with a table scan); the
        # few extra combinations this matches are dropped below.
        .where(
            shipments.c.tenant_id.in_({k[0] for k in keys}),
            shipments.c.carrier.in_({k[1] for k in keys}),
            shipments.c.tracking_number.in_({k[2] for k in keys}),
        )
        .order_by(shipments.c.id)
        .with_for_update()
    )
    found: dict[ShipmentKey, _Shipment] = {}
    wanted = set(keys)
    for row in (conn.execute(query)).all():
        if (row.tenant_id, row.carrier, row.tracking_number) not in wanted:
            continue
        state = ShipmentState(Status(row.status), row.status_at, row.estimated_delivery, row.eta_at)
        found[(row.tenant_id, row.carrier, row.tracking_number)] = _Shipment(row.id, state, state)
    return found


def _event_rows(
    batch: Sequence[IngestRequest], found: dict[ShipmentKey, _Shipment], now: datetime
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], int], list[dict[str, Any]]]:
    """(rows to insert, which request first carried each, repeats within the batch)."""
    rows: list[dict[str, Any]] = []
    owners: dict[tuple[str, str], int] = {}
    repeats: list[dict[str, Any]] = []
    for index, req in enumerate(batch):
        for event in req.events:
            shipment = found[(req.tenant_id, req.carrier, event.tracking_number)]
            shipment.requests.add(index)
            row = _event_row(shipment.id, event, now)
            key = (shipment.id, row["identity"])
            if key in owners:
                repeats.append(row)
                continue
            owners[key] = index
            rows.append(row)
    return rows, owners, repeats


def _event_row(shipment_id: str, event: CanonicalEvent, now: datetime) -> dict[str, Any]:
    return {
        "shipment_id": shipment_id,
        "identity": event.identity(),
        "tracking_number": event.tracking_number,  # not a column: used to find the shipment
        "carrier": event.carrier,
        "status": event.status.value,
        "carrier_status_code": event.carrier_status_code,
        "occurred_at": event.occurred_at,
        "location": event.location.to_json() if event.location else None,
        "description": event.description,
        "estimated_delivery": event.estimated_delivery,
        "signed_by": event.signed_by,
        "photo_url": event.photo_url,
        "received_at": now,
    }


def _insert_events(conn: sa.Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert what is new; returns the (shipment_id, identity) pairs that were."""
    if not rows:
        return set()
    statement = insert_ignore(events, conn.dialect.name).returning(
        events.c.shipment_id, events.c.identity
    )
    params = [{k: v for k, v in row.items() if k != "tracking_number"} for row in rows]
    result = conn.execute(statement, params)
    return {(row.shipment_id, row.identity) for row in result.all()}


def _enrich(conn: sa.Connection, repeats: list[dict[str, Any]]) -> None:
    """A re-delivered event only fills in proof of delivery the stored one lacks."""
    for row in repeats:
        if not (row["signed_by"] or row["photo_url"]):
            continue
        same = (events.c.shipment_id == row["shipment_id"]) & (events.c.identity == row["identity"])
        conn.execute(
            events.update()
            .where(same)
            .values(
                signed_by=sa.func.coalesce(events.c.signed_by, row["signed_by"]),
                photo_url=sa.func.coalesce(events.c.photo_url, row["photo_url"]),
            )
        )


def _move(shipment: _Shipment, row: dict[str, Any]) -> None:
    moved = apply_event(
        shipment.state, Status(row["status"]), row["occurred_at"], row["estimated_delivery"]
    )
    if moved != shipment.state:
        shipment.state, shipment.newest = moved, row["identity"]


def _record_changes(conn: sa.Connection, touched: list[_Shipment], now: datetime) -> dict[str, str]:
    """Update moved shipments; one change and one outbox job each. {shipment id: change id}."""
    moved = [s for s in touched if s.state != s.before and s.newest is not None]
    if not moved:
        return {}
    update = (
        shipments.update()
        .where(shipments.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            status_at=sa.bindparam("b_status_at"),
            estimated_delivery=sa.bindparam("b_eta"),
            eta_at=sa.bindparam("b_eta_at"),
            updated_at=sa.bindparam("b_now"),
        )
    )
    conn.execute(
        update,
        [
            {
                "b_id": s.id,
                "b_status": s.state.status.value,
                "b_status_at": s.state.status_at,
                "b_eta": s.state.estimated_delivery,
                "b_eta_at": s.state.eta_at,
                "b_now": now,
            }
            for s in moved
        ],
    )
    change_ids = {s.id: f"{s.id}:{s.newest}" for s in moved}
    conn.execute(
        shipment_changes.insert(),
        [
            {
                "id": change_ids[s.id],
                "shipment_id": s.id,
                "status_before": s.before.status.value,
                "status_after": s.state.status.value,
                "eta_before": s.before.estimated_delivery,
                "eta_after": s.state.estimated_delivery,
                "event_identity": s.newest,
                "created_at": now,
            }
            for s in moved
        ],
    )
    conn.execute(
        insert_ignore(outbox, conn.dialect.name),
        [
            {
                "job_id": change_job_id(change_ids[s.id]),
                "function": Job.SHIPMENT_CHANGED.value,
                "args": [change_ids[s.id]],
                "created_at": now,
            }
            for s in moved
        ],
    )
    return change_ids


def change_job_id(change_id: str) -> str:
    """The `shipment_changed` job of one change: the same change never makes two jobs."""
    return f"{Job.SHIPMENT_CHANGED}:{change_id}"


async def purge_raw_payloads(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(raw_payloads.delete().where(raw_payloads.c.received_at < before))
    return int(result.rowcount or 0)
