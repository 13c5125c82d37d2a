"""durable pending work: notification send leases, re-sends, reconciler indexes

Revision ID: 0009_durable
Revises: 0008_drivers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_durable"
down_revision = "0008_drivers"
branch_labels = None
depends_on = None

_OUTCOME_UNKNOWN = sa.text("reason = 'outcome_unknown'")
_UNPROCESSED = sa.text("processed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resend_of", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_notifications_due", ["status", "send_after"])
        batch_op.create_index(
            "ix_notifications_outcome_unknown",
            ["tenant_id", "created_at"],
            postgresql_where=_OUTCOME_UNKNOWN,
            sqlite_where=_OUTCOME_UNKNOWN,
        )
    with op.batch_alter_table("shipment_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipment_changes_unprocessed",
            ["created_at"],
            postgresql_where=_UNPROCESSED,
            sqlite_where=_UNPROCESSED,
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_changes_unprocessed")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_outcome_unknown")
        batch_op.drop_index("ix_notifications_due")
        batch_op.drop_column("resend_of")
        batch_op.drop_column("lease_until")
