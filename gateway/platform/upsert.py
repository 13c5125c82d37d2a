"""INSERT ... ON CONFLICT DO NOTHING for both dialects."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(table: sa.Table, dialect: str, **values: object) -> sa.Insert:
    """With no values, the statement takes a list of parameter dicts (executemany)."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    if values:
        insert = insert.values(**values)
    return insert.on_conflict_do_nothing()
