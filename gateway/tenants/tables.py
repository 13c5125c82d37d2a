"""Stores (tenants) and their hashed API keys."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import created_column, id_column, metadata

tenants = sa.Table(
    "tenants",
    metadata,
    id_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.LargeBinary(32), nullable=False),  # sha256 of the key's secret part
    created_column(),
)
