"""The ingest transaction: raw payloads, events, shipment state and outbox rows, all or nothing.

Written for batches (gateway/shipments/writer.py commits the requests that arrive together): each
step is one statement for the whole batch, so the cost per request falls as load rises. The
statements run on the raw driver (gateway/platform/bulk.py): on this path Core's per-statement
and per-row work cost more than the database did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import CanonicalEvent, Status
from gateway.domain.timeline import ShipmentState, apply_event
from gateway.platform.bulk import RawCursor
from gateway.platform.bulk_writes import Write, write_all
from gateway.platform.ids import new_ids
from gateway.platform.names import Job
from gateway.platform.outbox import PendingJob
from gateway.platform.tables import outbox
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


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    results: list[IngestResult]  # one per request, in order
    jobs: tuple[PendingJob, ...]  # the outbox jobs the transaction wrote


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
    outcome = await conn.run_sync(lambda sync_conn: ingest_batch(sync_conn, [req], now=now))
    return outcome.results[0]


def ingest_batch(
    conn: sa.Connection, batch: Sequence[IngestRequest], *, now: datetime | None = None
) -> IngestOutcome:
    """Store accepted carrier requests inside the caller's transaction, one result per request.

    Synchronous on purpose: PostgreSQL runs it through `AsyncConnection.run_sync`, SQLite in the
    ingest writer's own thread, so a whole batch costs one hop to the database thread, not one
    per statement. Statements go to the raw driver (gateway/platform/bulk.py), a few per batch.
    """
    now = now or datetime.now(UTC)
    cursor = RawCursor(conn)
    keys = sorted({(r.tenant_id, r.carrier, e.tracking_number) for r in batch for e in r.events})
    write_all(cursor, [_raw_payloads(batch, now), _new_shipments(keys, now)])  # one round trip
    if not keys:
        return IngestOutcome([IngestResult(0, 0, ()) for _ in batch], ())
    found = _lock_shipments(cursor, keys)
    new_rows, owners, repeats = _event_rows(batch, found, now)
    inserted = _insert_events(cursor, new_rows)
    _enrich(cursor, [r for r in new_rows if (r["shipment_id"], r["identity"]) not in inserted])
    _enrich(cursor, repeats)
    stored = [0] * len(batch)
    for row in new_rows:
        if (row["shipment_id"], row["identity"]) in inserted:
            index = owners[(row["shipment_id"], row["identity"])]
            stored[index] += 1
            shipment = found[(batch[index].tenant_id, batch[index].carrier, row["tracking_number"])]
            _move(shipment, row)
    changes, jobs = _record_changes(cursor, list(found.values()), now)
    results = [
        IngestResult(
            stored[i],
            len(req.events) - stored[i],
            tuple(changes[s.id] for s in found.values() if i in s.requests and s.id in changes),
        )
        for i, req in enumerate(batch)
    ]
    return IngestOutcome(results, jobs)


_RAW_COLUMNS: Final = (
    "id",
    "tenant_id",
    "connection_id",
    "carrier",
    "headers",
    "body",
    "event_count",
    "received_at",
)


def _raw_payloads(batch: Sequence[IngestRequest], now: datetime) -> Write:
    ids = new_ids("raw", len(batch))
    rows = [
        {
            "id": raw_id,
            "tenant_id": req.tenant_id,
            "connection_id": req.connection_id,
            "carrier": req.carrier,
            "headers": dict(req.headers),
            "body": req.body,
            "event_count": len(req.events),
            "received_at": now,
        }
        for raw_id, req in zip(ids, batch, strict=True)
    ]
    return Write(raw_payloads, _RAW_COLUMNS, rows)


_NEW_SHIPMENT_COLUMNS: Final = (
    "id",
    "tenant_id",
    "carrier",
    "tracking_number",
    "registered",
    "status",
    "created_at",
    "updated_at",
)
_STATE_COLUMNS: Final = (
    "id",
    "tenant_id",
    "carrier",
    "tracking_number",
    "status",
    "status_at",
    "estimated_delivery",
    "eta_at",
)


def _new_shipments(keys: list[ShipmentKey], now: datetime) -> Write:
    """Shipments not seen before, created unregistered (existing ones are left alone)."""
    rows = [
        {
            "id": shipment_id,
            "tenant_id": tenant_id,
            "carrier": carrier,
            "tracking_number": number,
            "registered": False,
            "status": Status.UNKNOWN.value,
            "created_at": now,
            "updated_at": now,
        }
        for shipment_id, (tenant_id, carrier, number) in zip(
            new_ids("shp", len(keys)), keys, strict=True
        )
    ]
    return Write(shipments, _NEW_SHIPMENT_COLUMNS, rows, ignore_conflicts=True)


def _lock_shipments(cursor: RawCursor, keys: list[ShipmentKey]) -> dict[ShipmentKey, _Shipment]:
    """Read and (PostgreSQL) row-lock the batch's shipments, in one sorted order."""
    # One IN per column (not a row-value IN, which SQLite answers with a table scan); the few
    # extra combinations this matches are dropped below.
    tenants, carriers, numbers = (sorted({k[i] for k in keys}) for i in range(3))
    params = [*tenants, *carriers, *numbers]
    sql = cursor.select_in_sql(
        shipments,
        _STATE_COLUMNS,
        [
            ("tenant_id", len(tenants)),
            ("carrier", len(carriers)),
            ("tracking_number", len(numbers)),
        ],
        order_by="id",
        for_update=True,
    )
    read = cursor.reader(shipments, _STATE_COLUMNS)
    found: dict[ShipmentKey, _Shipment] = {}
    wanted = set(keys)
    for raw in cursor.execute(sql, params):
        shipment_id, tenant_id, carrier, number, status, status_at, eta, eta_at = read(raw)
        if (tenant_id, carrier, number) not in wanted:
            continue
        state = ShipmentState(Status(status), status_at, eta, eta_at)
        found[(tenant_id, carrier, number)] = _Shipment(shipment_id, state, state)
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


_EVENT_COLUMNS: Final = (
    "shipment_id",
    "identity",
    "carrier",
    "status",
    "carrier_status_code",
    "occurred_at",
    "location",
    "description",
    "estimated_delivery",
    "signed_by",
    "photo_url",
    "received_at",
)
_EVENTS_PER_STATEMENT: Final = 64  # a multi-row VALUES stays far below both drivers' limits


def _insert_events(cursor: RawCursor, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert what is new; returns the (shipment_id, identity) pairs that were."""
    bind = cursor.binder(events, _EVENT_COLUMNS)
    inserted: set[tuple[str, str]] = set()
    for start in range(0, len(rows), _EVENTS_PER_STATEMENT):
        chunk = rows[start : start + _EVENTS_PER_STATEMENT]
        sql = cursor.insert_sql(
            events,
            _EVENT_COLUMNS,
            rows=len(chunk),
            ignore_conflicts=True,
            returning=("shipment_id", "identity"),
        )
        inserted.update(
            (shipment_id, identity)
            for shipment_id, identity in cursor.execute(sql, bind.flat(chunk))
        )
    return inserted


def _enrich(cursor: RawCursor, repeats: list[dict[str, Any]]) -> None:
    """A re-delivered event only fills in proof of delivery the stored one lacks."""
    proofs = [r for r in repeats if r["signed_by"] or r["photo_url"]]
    if not proofs:
        return
    bind = cursor.binder(events, ("signed_by", "photo_url", "shipment_id", "identity"))
    sql = cursor.update_sql(
        events,
        {"signed_by": "coalesce(signed_by, {})", "photo_url": "coalesce(photo_url, {})"},
        where=("shipment_id", "identity"),
    )
    cursor.executemany(sql, [bind(row) for row in proofs])


def _move(shipment: _Shipment, row: dict[str, Any]) -> None:
    moved = apply_event(
        shipment.state, Status(row["status"]), row["occurred_at"], row["estimated_delivery"]
    )
    if moved != shipment.state:
        shipment.state, shipment.newest = moved, row["identity"]


_STATE_UPDATE: Final = ("status", "status_at", "estimated_delivery", "eta_at", "updated_at", "id")
_CHANGE_COLUMNS: Final = (
    "id",
    "shipment_id",
    "status_before",
    "status_after",
    "eta_before",
    "eta_after",
    "event_identity",
    "created_at",
)
_OUTBOX_COLUMNS: Final = ("job_id", "function", "args", "created_at")


def _record_changes(
    cursor: RawCursor, touched: list[_Shipment], now: datetime
) -> tuple[dict[str, str], tuple[PendingJob, ...]]:
    """Update moved shipments; one change and one outbox job each.

    Returns {shipment id: change id} and the outbox jobs written."""
    moved = [s for s in touched if s.state != s.before and s.newest is not None]
    if not moved:
        return {}, ()
    change_ids = {s.id: f"{s.id}:{s.newest}" for s in moved}
    jobs = tuple(
        PendingJob(change_job_id(change_ids[s.id]), Job.SHIPMENT_CHANGED.value, [change_ids[s.id]])
        for s in moved
    )
    states = [
        {
            "status": s.state.status.value,
            "status_at": s.state.status_at,
            "estimated_delivery": s.state.estimated_delivery,
            "eta_at": s.state.eta_at,
            "updated_at": now,
            "id": s.id,
        }
        for s in moved
    ]
    changes = [
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
    ]
    work = [
        {"job_id": j.job_id, "function": j.function, "args": j.args, "created_at": now}
        for j in jobs
    ]
    write_all(  # one round trip
        cursor,
        [
            Write(shipments, _STATE_UPDATE, states, key="id"),
            Write(shipment_changes, _CHANGE_COLUMNS, changes),
            Write(outbox, _OUTBOX_COLUMNS, work, ignore_conflicts=True),
        ],
    )
    return change_ids, jobs


def change_job_id(change_id: str) -> str:
    """The `shipment_changed` job of one change: the same change never makes two jobs."""
    return f"{Job.SHIPMENT_CHANGED}:{change_id}"


async def purge_raw_payloads(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(raw_payloads.delete().where(raw_payloads.c.received_at < before))
    return int(result.rowcount or 0)
