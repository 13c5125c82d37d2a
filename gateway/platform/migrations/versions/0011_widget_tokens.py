"""widget tokens

Revision ID: 0011_widget_tokens
Revises: 0010_links_chat
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_widget_tokens"
down_revision = "0010_links_chat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "widget_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_widget_tokens_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_widget_tokens_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_widget_tokens")),
    )
    with op.batch_alter_table("widget_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_widget_tokens_shipment_expires", ["shipment_id", "expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("widget_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_widget_tokens_shipment_expires")
    op.drop_table("widget_tokens")
