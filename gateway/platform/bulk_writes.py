"""Several bulk writes in one round trip: on PostgreSQL one statement, on SQLite one by one.

Each `Write` inserts rows into a table or updates rows by a key column. On PostgreSQL the writes
become data-modifying CTEs of one statement, each reading its rows from `unnest` over one array
parameter per column, so a batch costs one round trip and one prepared statement whatever its
size. SQLite runs in the process, where a round trip costs nothing: each write is an
executemany. Writes in one call must not touch the same rows (a statement's CTEs do not see
each other's changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gateway.platform.bulk import RawCursor

_POSTGRES: sa.Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Write:
    table: sa.Table
    columns: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]
    ignore_conflicts: bool = False  # INSERT ... ON CONFLICT DO NOTHING
    key: str | None = None  # an UPDATE: set the other columns where `key` matches


def write_all(cursor: RawCursor, writes: Sequence[Write]) -> None:
    writes = [w for w in writes if w.rows]
    if not writes:
        return
    if not cursor.postgres:
        for w in writes:
            cursor.executemany(_sqlite_sql(cursor, w), _bound_rows(cursor, w))
        return
    params: list[list[Any]] = []
    for w in writes:
        bound = _bound_rows(cursor, w)
        params.extend([list(column) for column in zip(*bound, strict=True)])
    specs = tuple((w.table, w.columns, w.ignore_conflicts, w.key) for w in writes)
    cursor.execute(_postgres_sql(specs), params)


def _bound_rows(cursor: RawCursor, w: Write) -> list[list[Any]]:
    bind = cursor.binder(w.table, w.columns)
    return [bind(row) for row in w.rows]


def _sqlite_sql(cursor: RawCursor, w: Write) -> str:
    if w.key is None:
        return cursor.insert_sql(w.table, w.columns, ignore_conflicts=w.ignore_conflicts)
    assignments = {column: "{}" for column in w.columns if column != w.key}
    # Parameters go assignments first, then the key: the key column must come last.
    if w.columns[-1] != w.key:
        raise ValueError("an update's key column must be its last column")
    return cursor.update_sql(w.table, assignments, where=(w.key,))


_Spec = tuple[sa.Table, tuple[str, ...], bool, str | None]


@lru_cache(maxsize=32)
def _postgres_sql(specs: tuple[_Spec, ...]) -> str:
    parts, n = [], 0
    for i, (table, columns, ignore_conflicts, key) in enumerate(specs):
        arrays = ", ".join(
            f"${n + j + 1}::{_array_type(table.c[c])}" for j, c in enumerate(columns)
        )
        n += len(columns)
        source = f"unnest({arrays}) AS t({', '.join(columns)})"
        if key is None:
            values = ", ".join(_value(table.c[c]) for c in columns)
            statement = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {values} FROM {source}"  # noqa: S608 - identifiers and placeholders only
            )
            statement += " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        else:
            sets = ", ".join(f"{c} = {_value(table.c[c])}" for c in columns if c != key)
            statement = (
                f"UPDATE {table.name} SET {sets} FROM {source} WHERE {table.name}.{key} = t.{key}"  # noqa: S608 - identifiers and placeholders only
            )
        parts.append(f"w{i} AS ({statement})")
    return f"WITH {', '.join(parts)} SELECT 1"


def _array_type(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.JSON):
        return "TEXT[]"  # bound as JSON text (Core's processor), cast in _value
    return f"{column.type.compile(dialect=_POSTGRES)}[]"


def _value(column: sa.Column[Any]) -> str:
    return f"t.{column.name}::JSON" if isinstance(column.type, sa.JSON) else f"t.{column.name}"
