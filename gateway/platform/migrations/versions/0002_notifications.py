"""notifications: rules, settings, template overrides, the notification log, SMS opt-outs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("notification_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_rules")),
    )
    op.create_index(op.f("ix_notification_rules_tenant_id"), "notification_rules", ["tenant_id"])
    op.create_table(
        "notification_settings",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("notification_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_templates",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("notification_templates"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "channel", "locale", "event", name=op.f("pk_notification_templates")
        ),
    )
    _create_notifications()
    op.create_table(
        "sms_optouts",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _tenant_fk("sms_optouts"),
        sa.PrimaryKeyConstraint("tenant_id", "phone_hash", name=op.f("pk_sms_optouts")),
    )


def _create_notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("cause_id", sa.String(length=160), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("fallback", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("template", sa.String(length=120), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cause_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        _tenant_fk("notifications"),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_notifications_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_provider_id"), "notifications", ["provider_id"])
    op.create_index(
        "ix_notifications_newest", "notifications", ["shipment_id", "channel", "cause_at"]
    )
    op.create_index(
        "ix_notifications_address", "notifications", ["address_hash", "channel", "sent_at"]
    )


def downgrade() -> None:
    op.drop_table("sms_optouts")
    op.drop_index("ix_notifications_address", table_name="notifications")
    op.drop_index("ix_notifications_newest", table_name="notifications")
    op.drop_index(op.f("ix_notifications_provider_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notification_templates")
    op.drop_table("notification_settings")
    op.drop_index(op.f("ix_notification_rules_tenant_id"), table_name="notification_rules")
    op.drop_table("notification_rules")
