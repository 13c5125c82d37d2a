"""short tracking links; the driver chat

Revision ID: 0010_links_chat
Revises: 0009_durable
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_links_chat"
down_revision = "0009_durable"
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

    op.create_table(
        "chat_messages",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=True),
        sa.Column("sender", sa.String(length=8), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("relay", sa.String(length=8), nullable=False),
        sa.Column("relay_status", sa.String(length=8), nullable=False),
        sa.Column("relay_reason", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_chat_messages_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_chat_messages_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint("id", name=op.f("uq_chat_messages_id")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_shipment_seq", ["shipment_id", "seq"])
        batch_op.create_index("ix_chat_messages_driver_seq", ["driver_id", "seq"])
        batch_op.create_index("ix_chat_messages_relay_due", ["relay_status", "updated_at"])

    op.create_table(
        "chat_driver_settings",
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_chat_driver_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("driver_id", name=op.f("pk_chat_driver_settings")),
    )


def downgrade() -> None:
    op.drop_table("chat_driver_settings")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_relay_due")
        batch_op.drop_index("ix_chat_messages_driver_seq")
        batch_op.drop_index("ix_chat_messages_shipment_seq")
    op.drop_table("chat_messages")
    with op.batch_alter_table("tracking_links", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_links_shipment_created")
    op.drop_table("tracking_links")
