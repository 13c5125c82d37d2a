"""short tracking links

Revision ID: 0006_links_chat
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_links_chat"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_links",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_tracking_links_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_tracking_links")),
    )
    with op.batch_alter_table("tracking_links", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_links_shipment_created", ["shipment_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("tracking_links", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_links_shipment_created")
    op.drop_table("tracking_links")
