"""What every table module shares: the metadata (naming convention), UTC timestamps, the outbox.

Each area declares its own tables in its `tables.py`; `gateway/schema.py` gathers them for
Alembic and the tests. Alembic migrations mirror the tables.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_text  # the text SQLite's DATETIME stores, in one C call
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - driver contract
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_text(value: datetime | None) -> str | None:
    """What process_bind_param and SQLAlchemy's SQLite DATETIME make of `value`, as one step:
    `2026-03-14 13:12:40.000000`, naive UTC (bound once per timestamp on every write)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime stored")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def id_column() -> sa.Column[str]:
    return sa.Column("id", sa.String(40), primary_key=True)


def tenant_column() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False)


def created_column() -> sa.Column[datetime]:
    return sa.Column("created_at", UtcDateTime(), nullable=False)


# Work committed with the data that caused it; the relay (gateway/platform/relay.py) moves it
# to arq.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("function", sa.String(100), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    created_column(),
    sa.Column("enqueued_at", UtcDateTime(), index=True),
)
