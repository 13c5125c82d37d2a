"""Shipments, their canonical events, the raw payloads they came in, and their changes."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, created_column, id_column, metadata, tenant_column

shipments = sa.Table(
    "shipments",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("tracking_number", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(200)),
    sa.Column("recipient", sa.JSON),
    sa.Column("destination", sa.JSON),
    sa.Column("promised_by", UtcDateTime()),
    sa.Column("registered", sa.Boolean, nullable=False, default=False),  # the store registered it
    # Tracking links carry the generation they were minted at; revoking all links increments it.
    sa.Column("link_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_at", UtcDateTime()),  # occurred_at of the event that set the status
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("eta_at", UtcDateTime()),  # occurred_at of the event that set estimated_delivery
    created_column(),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "carrier", "tracking_number", name="uq_shipments_tracking"),
    sa.Index("ix_shipments_listing", "tenant_id", "created_at", "id"),  # GET /v1/shipments
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("identity", sa.String(32), nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("carrier_status_code", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("location", sa.JSON),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("signed_by", sa.String(200)),
    sa.Column("photo_url", sa.Text),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("shipment_id", "identity", name="uq_events_identity"),
    sa.Index("ix_events_timeline", "shipment_id", "occurred_at"),
)

raw_payloads = sa.Table(
    "raw_payloads",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    tenant_column(),
    sa.Column("connection_id", sa.String(40), nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),  # the auth header is left out
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False, index=True),
)

shipment_changes = sa.Table(
    "shipment_changes",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # equals the job's id suffix
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("status_before", sa.String(32)),
    sa.Column("status_after", sa.String(32), nullable=False),
    sa.Column("eta_before", sa.Date),
    sa.Column("eta_after", sa.Date),
    sa.Column("event_identity", sa.String(32), nullable=False),
    created_column(),
    sa.Column("processed_at", UtcDateTime()),
    sa.Index(  # the reconciler: changes not fanned out yet (a handful, however big the table)
        "ix_shipment_changes_unprocessed",
        "created_at",
        postgresql_where=sa.text("processed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL"),
    ),
)
