"""secrets encrypted at rest; provider callbacks recorded once

Carrier secrets, store-webhook secrets and tracking-link keys become Fernet tokens made with
the newest LASTMILE_SECRET_KEY (gateway/platform/vault.py). Rows written in plain text before
this revision are encrypted here, in the migration's transaction, so no plain secret is left
behind and the running code never has to guess whether a value is encrypted. A database with
such rows therefore needs LASTMILE_SECRET_KEY set when it is migrated; an empty one does not.

Revision ID: 0007_hostile
Revises: 0006_shipment_listing
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from gateway.platform.vault import vault

revision = "0007_hostile"
down_revision = "0006_shipment_listing"
branch_labels = None
depends_on = None

# (table, key column, secret column, old type, new type)
_SECRETS = (
    ("carrier_connections", "id", "secrets", sa.JSON(), sa.Text()),
    ("webhook_endpoints", "id", "secret", sa.String(length=100), sa.Text()),
    ("webhook_endpoints", "id", "previous_secret", sa.String(length=100), sa.Text()),
    ("link_keys", "kid", "secret", sa.LargeBinary(length=32), sa.LargeBinary()),
)


def upgrade() -> None:
    for table, _, column, old, new in _SECRETS:
        with op.batch_alter_table(table) as batch_op:
            using = f"{column}::text" if isinstance(old, sa.JSON) else None
            batch_op.alter_column(column, type_=new, existing_type=old, postgresql_using=using)
    for table, key, column, _, new in _SECRETS:
        _rewrite(table, key, column, new, _seal)
    op.create_table(
        "provider_callbacks",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("callback_id", sa.String(length=120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "callback_id", name=op.f("pk_provider_callbacks")),
    )
    with op.batch_alter_table("provider_callbacks") as batch_op:
        batch_op.create_index("ix_provider_callbacks_received_at", ["received_at"])


def downgrade() -> None:
    op.drop_table("provider_callbacks")
    for table, key, column, _, new in _SECRETS:
        _rewrite(table, key, column, new, _open)
    for table, _, column, old, new in _SECRETS:
        with op.batch_alter_table(table) as batch_op:
            using = f"{column}::json" if isinstance(old, sa.JSON) else None
            batch_op.alter_column(column, type_=old, existing_type=new, postgresql_using=using)


def _seal(value: bytes) -> bytes:
    return vault().encrypt(value)


def _open(value: bytes) -> bytes:
    return vault().decrypt(value)


def _rewrite(
    table: str,
    key: str,
    column: str,
    kind: sa.Text | sa.LargeBinary,
    change: Callable[[bytes], bytes],
) -> None:
    """Apply `change` to every stored value of `table.column` (str columns as UTF-8)."""
    binary = isinstance(kind, sa.LargeBinary)
    t = sa.table(table, sa.column(key, sa.String()), sa.column(column, kind))
    bind = op.get_bind()
    rows = bind.execute(sa.select(t.c[key], t.c[column]).where(t.c[column].is_not(None))).all()
    for row_key, value in rows:
        raw = bytes(value) if binary else str(value).encode()
        changed = change(raw)
        bind.execute(
            t.update()
            .where(t.c[key] == row_key)
            .values({column: changed if binary else changed.decode()})
        )
