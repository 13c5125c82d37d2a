"""an index for listing a store's shipments newest first (GET /v1/shipments)

Revision ID: 0006_shipment_listing
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006_shipment_listing"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_shipments_listing", "shipments", ["tenant_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_shipments_listing", table_name="shipments")
