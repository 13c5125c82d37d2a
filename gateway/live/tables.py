"""Tables of the live area: widget tokens (the embeddable widget's capability)."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, created_column, metadata

# A widget token opens one shipment, for one origin, briefly (gateway/live/widget_rules.py).
# Only the token's SHA-256 is stored: a copy of the database opens no widget. `generation` is the
# shipment's link generation when it was issued, so revoking the tracking links ends it too.
widget_tokens = sa.Table(
    "widget_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # hex SHA-256 of the token
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("origin", sa.String(300), nullable=False),  # scheme://host[:port], normalized
    sa.Column("generation", sa.Integer, nullable=False),
    created_column(),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_widget_tokens_shipment_expires", "shipment_id", "expires_at"),
)
