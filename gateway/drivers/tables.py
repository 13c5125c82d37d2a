"""Tables of the drivers area: drivers, their signing keys, routes and stops, positions, alerts,
proofs of delivery.

Migration: gateway/platform/migrations/versions/0006_drivers.py mirrors this file.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, created_column, id_column, metadata, tenant_column
from gateway.platform.vault import EncryptedBytes

_BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: the rowid alias

drivers = sa.Table(
    "drivers",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),  # E.164; never logged
    # Tokens carry the version they were minted at: a reset increments it, revoking them all.
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    # The ping screening's anchor (rules.pings.Ping as JSON) and the newest known position.
    sa.Column("last_ping", sa.JSON),
    sa.Column("position_at", UtcDateTime()),
    created_column(),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("deleted_at", UtcDateTime()),  # deleted drivers keep their history, not their tokens
    sa.Index("ix_drivers_tenant_created", "tenant_id", "created_at"),
)

# HMAC keys shared by every process: the newest signs driver tokens and proof links, all verify.
driver_keys = sa.Table(
    "driver_keys",
    metadata,
    sa.Column("kid", sa.String(16), primary_key=True),
    sa.Column("secret", EncryptedBytes, nullable=False),  # 32 bytes, encrypted at rest
    created_column(),
)

routes = sa.Table(
    "routes",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("driver_id", sa.String(40), sa.ForeignKey("drivers.id"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # RouteState: planned|active|done
    sa.Column("window_start", UtcDateTime()),
    sa.Column("window_end", UtcDateTime()),
    sa.Column("path", sa.JSON),  # [[lat, lon], ...] or null
    sa.Column("notify_stops_away", sa.Integer),  # tell the customer N stops ahead; null: off
    sa.Column("rule_state", sa.JSON, nullable=False),  # rules.batch.RouteState as JSON
    sa.Column("off_route", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("off_route_episodes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("finished_at", UtcDateTime()),
    created_column(),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_routes_driver_state", "driver_id", "state"),
    sa.Index("ix_routes_tenant_created", "tenant_id", "created_at"),
)

route_stops = sa.Table(
    "route_stops",
    metadata,
    sa.Column("route_id", sa.String(40), sa.ForeignKey("routes.id"), primary_key=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # StopState
    sa.Column("lat", sa.Float, nullable=False),  # the shipment's destination when routed
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("radius_m", sa.Float, nullable=False),
    sa.Column("service_s", sa.Float, nullable=False),
    sa.Column("eta", UtcDateTime()),  # the newest estimate
    sa.Column("eta_reported", UtcDateTime()),  # the last one told to the store
    sa.Column("eta_reports", sa.Integer, nullable=False, server_default="0"),
    sa.Column("late_reports", sa.Integer, nullable=False, server_default="0"),
    sa.Column("arrived_at", UtcDateTime()),
    sa.Column("delivered_at", UtcDateTime()),  # occurred_at of the driver's delivered event
    sa.Column("done_at", UtcDateTime()),  # delivered or failed
    sa.Index("ix_route_stops_shipment", "shipment_id"),
)

# Position history: written in bulk per batch, purged after the retention period. The hottest
# insert of the gateway, so: no foreign keys (rows only ever point at drivers), and times as
# epoch milliseconds (no per-value conversion; store_positions turns them into UTC datetimes).
driver_positions = sa.Table(
    "driver_positions",
    metadata,
    sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("driver_id", sa.String(40), nullable=False),
    sa.Column("route_id", sa.String(40)),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("recorded_at_ms", sa.BigInteger, nullable=False),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.Column("accuracy_m", sa.Float),
    sa.Column("speed_mps", sa.Float),
    sa.Column("heading", sa.Float),
    sa.Column("trusted", sa.SmallInteger, nullable=False),  # 0 or 1
    sa.Index("ix_driver_positions_driver_time", "driver_id", "recorded_at_ms"),
    sa.Index("ix_driver_positions_recorded_at", "recorded_at_ms"),
)

# The dispatcher's feed; `id` derives from the cause, so a retried cause records nothing twice.
driver_alerts = sa.Table(
    "driver_alerts",
    metadata,
    sa.Column("seq", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    tenant_column(),
    sa.Column("kind", sa.String(24), nullable=False),  # AlertKind
    sa.Column("driver_id", sa.String(40)),
    sa.Column("route_id", sa.String(40)),
    sa.Column("shipment_id", sa.String(40)),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    created_column(),
    sa.Index("ix_driver_alerts_tenant_seq", "tenant_id", "seq"),
)

proofs = sa.Table(
    "proofs",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column(
        "shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False, unique=True
    ),
    sa.Column("route_id", sa.String(40), nullable=False),
    sa.Column("driver_id", sa.String(40), nullable=False),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("photo_key", sa.String(512)),  # a key of the proof storage
    sa.Column("photo_type", sa.String(32)),
    sa.Column("signature_key", sa.String(512)),
    sa.Column("signature_type", sa.String(32)),
    sa.Column("delivered_at", UtcDateTime(), nullable=False),
    created_column(),
)
