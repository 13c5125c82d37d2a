"""Carrier connections: where each carrier posts, and the secrets that authenticate it."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import created_column, id_column, metadata, tenant_column
from gateway.platform.vault import EncryptedJSON

carrier_connections = sa.Table(
    "carrier_connections",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("scheme", sa.String(40), nullable=False),
    sa.Column("header", sa.String(100), nullable=False),
    sa.Column("secrets", EncryptedJSON, nullable=False),  # list[str], two while rotating
    created_column(),
)
