"""Tables of the customer tracking area: link keys, short links, ratings and link opens."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, created_column, metadata
from gateway.platform.vault import EncryptedBytes

# HMAC keys for tracking-link tokens (gateway/tracking/links.py), shared by every process
# through the database; the newest signs, all verify, so adding a key rotates without breaking
# old links.
link_keys = sa.Table(
    "link_keys",
    metadata,
    sa.Column("kid", sa.String(16), primary_key=True),
    sa.Column("secret", EncryptedBytes, nullable=False),  # 32 bytes, encrypted at rest
    created_column(),
)

# One rating per shipment, by page or SMS reply; editable for 24 h after `created_at`.
ratings = sa.Table(
    "ratings",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column(
        "shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False, unique=True
    ),
    sa.Column("driver_id", sa.String(40)),  # the driver of the stop; null until routes exist
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("source", sa.String(8), nullable=False),  # RatingSource: page | sms
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
    sa.Index("ix_ratings_tenant_updated", "tenant_id", "updated_at"),
)

# The customer opened the tracking page: first and newest visit and how many visits (a visit is
# a real browser GET more than `VISIT_GAP` after the previous one; previews and HEAD never count).
tracking_link_opens = sa.Table(
    "tracking_link_opens",
    metadata,
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), primary_key=True),
    sa.Column("first_opened_at", UtcDateTime(), nullable=False),
    sa.Column("last_opened_at", UtcDateTime(), nullable=False),
    sa.Column("open_count", sa.Integer, nullable=False),
)

# Short tracking links (gateway/tracking/short_links.py): a random token that opens one shipment
# as of a link generation (revoking bumps `shipments.link_generation`, so a row never changes and
# any process may cache it). `expires_at`: 90 days after creation, or 30 after delivery if sooner.
tracking_links = sa.Table(
    "tracking_links",
    metadata,
    sa.Column("token", sa.String(32), primary_key=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    created_column(),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_tracking_links_shipment_created", "shipment_id", "created_at"),
)
