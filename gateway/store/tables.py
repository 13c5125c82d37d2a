"""SQLAlchemy Core tables: the system of record. Alembic migrations mirror this file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores tz-aware UTC; returns tz-aware UTC on both SQLite (naive) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - driver contract
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(40), primary_key=True)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False)


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", UtcDateTime(), nullable=False)


tenants = sa.Table(
    "tenants",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.LargeBinary(32), nullable=False),  # sha256 of the key's secret part
    _created(),
)

carrier_connections = sa.Table(
    "carrier_connections",
    metadata,
    _id(),
    _tenant(),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("scheme", sa.String(40), nullable=False),
    sa.Column("header", sa.String(100), nullable=False),
    sa.Column("secrets", sa.JSON, nullable=False),  # list[str], two while rotating
    _created(),
)

shipments = sa.Table(
    "shipments",
    metadata,
    _id(),
    _tenant(),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("tracking_number", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(200)),
    sa.Column("recipient", sa.JSON),
    sa.Column("destination", sa.JSON),
    sa.Column("promised_by", UtcDateTime()),
    sa.Column("registered", sa.Boolean, nullable=False, default=False),  # the store registered it
    # Tracking links carry the generation they were minted at; revoking all links increments it.
    sa.Column("link_generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_at", UtcDateTime()),  # occurred_at of the event that set the status
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("eta_at", UtcDateTime()),  # occurred_at of the event that set estimated_delivery
    _created(),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "carrier", "tracking_number", name="uq_shipments_tracking"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("identity", sa.String(32), nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("carrier_status_code", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("location", sa.JSON),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("signed_by", sa.String(200)),
    sa.Column("photo_url", sa.Text),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("shipment_id", "identity", name="uq_events_identity"),
    sa.Index("ix_events_timeline", "shipment_id", "occurred_at"),
)

raw_payloads = sa.Table(
    "raw_payloads",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    _tenant(),
    sa.Column("connection_id", sa.String(40), nullable=False),
    sa.Column("carrier", sa.String(20), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),  # the auth header is left out
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False, index=True),
)

# Work committed with the data that caused it; the relay moves it to arq (see gateway/relay.py).
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("function", sa.String(100), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    _created(),
    sa.Column("enqueued_at", UtcDateTime(), index=True),
)

shipment_changes = sa.Table(
    "shipment_changes",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # equals the job's id suffix
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("status_before", sa.String(32)),
    sa.Column("status_after", sa.String(32), nullable=False),
    sa.Column("eta_before", sa.Date),
    sa.Column("eta_after", sa.Date),
    sa.Column("event_identity", sa.String(32), nullable=False),
    _created(),
    sa.Column("processed_at", UtcDateTime()),
)

# HMAC keys for tracking-link tokens (gateway/links.py), shared by every process through the
# database; the newest signs, all verify, so adding a key rotates without breaking old links.
link_keys = sa.Table(
    "link_keys",
    metadata,
    sa.Column("kid", sa.String(16), primary_key=True),
    sa.Column("secret", sa.LargeBinary(32), nullable=False),
    _created(),
)
