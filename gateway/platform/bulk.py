"""Many rows per statement on the raw driver, for hot paths where SQLAlchemy Core costs the most.

Core builds, caches and processes every statement and row; for carrier ingest that was most of
the CPU per request. Here the builders turn a table's columns into SQL text once per dialect and
row count (`?` for sqlite3, `$n` for asyncpg), and values are bound by SQLAlchemy's own type
processors for the dialect, so what is stored reads back through Core exactly as if Core had
written it. Statements run on the DBAPI cursor of the caller's Core connection, inside its
transaction: `RawCursor(conn)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

_Processor = Callable[[Any], Any] | None


class RawCursor:
    """The DBAPI cursor of `conn`'s transaction; placeholders and binding for its dialect."""

    def __init__(self, conn: sa.Connection) -> None:
        self.dialect = conn.dialect
        self.postgres = conn.dialect.name == "postgresql"
        self._cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._driver_error: type[Exception] = conn.dialect.loaded_dbapi.Error

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            self._cursor.execute(sql, tuple(params))
            if self._cursor.description is None:
                return []
            return [tuple(row) for row in self._cursor.fetchall()]
        except self._driver_error as exc:
            raise self._wrapped(sql, exc) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            self._cursor.executemany(sql, [tuple(row) for row in rows])
        except self._driver_error as exc:
            raise self._wrapped(sql, exc) from exc

    def _wrapped(self, sql: str, exc: Exception) -> sa.exc.StatementError:
        """The driver's error as Core would raise it (OperationalError, IntegrityError, ...,
        `connection_invalidated` when the connection is gone), parameters left out."""
        return sa.exc.DBAPIError.instance(
            sql,
            None,
            exc,
            self._driver_error,
            hide_parameters=True,
            connection_invalidated=self.dialect.is_disconnect(exc, None, None),  # type: ignore[arg-type]
            dialect=self.dialect,
        )

    def insert_sql(
        self,
        table: sa.Table,
        columns: Sequence[str],
        *,
        rows: int = 1,
        ignore_conflicts: bool = False,
        returning: Sequence[str] = (),
    ) -> str:
        """INSERT of `rows` rows (a multi-row VALUES when more than one)."""
        return _insert_sql(
            self.postgres, table, tuple(columns), rows, ignore_conflicts, tuple(returning)
        )

    def update_sql(
        self,
        table: sa.Table,
        assignments: Mapping[str, str],
        *,
        where: Sequence[str] = (),
        where_in: tuple[str, int] | None = None,
    ) -> str:
        """UPDATE setting each column to its expression, `{}` standing for its parameter;
        `where` columns equal a parameter each, `where_in` is (column, how many values).
        Parameters go in that order: assignments, `where`, then the `where_in` values."""
        return _update_sql(self.postgres, table, tuple(assignments.items()), tuple(where), where_in)

    def select_in_sql(
        self,
        table: sa.Table,
        columns: Sequence[str],
        where_in: Sequence[tuple[str, int]],
        *,
        order_by: str,
        for_update: bool = False,
    ) -> str:
        """SELECT `columns` where each (column, n) is IN n parameters, in that order.
        `for_update` locks the rows on PostgreSQL (SQLite's write lock covers them)."""
        return _select_in_sql(
            self.postgres, table, tuple(columns), tuple(where_in), order_by, for_update
        )

    def binder(self, table: sa.Table, columns: Sequence[str]) -> Binder:
        return _binder(self.dialect, table, tuple(columns))

    def reader(self, table: sa.Table, columns: Sequence[str]) -> Reader:
        return _reader(self.dialect, table, tuple(columns))


class Binder:
    """Row mappings to driver parameters for `columns`, as Core would bind them."""

    def __init__(self, columns: Sequence[str], processors: Sequence[_Processor]) -> None:
        self.columns = tuple(columns)
        self._pairs = tuple(zip(columns, processors, strict=True))

    def __call__(self, row: Mapping[str, Any]) -> list[Any]:
        # Processors see None too: a JSON column stores it as JSON null, as Core does.
        return [
            row[name] if process is None else process(row[name]) for name, process in self._pairs
        ]

    def flat(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """All rows' parameters in one list, for a multi-row VALUES."""
        return [value for row in rows for value in self(row)]


class Reader:
    """Driver rows to Python values for `columns`, as Core would return them."""

    def __init__(self, processors: Sequence[_Processor]) -> None:
        self._processors = tuple(processors)

    def __call__(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, self._processors, strict=True)
        )


@lru_cache(maxsize=64)
def _reader(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> Reader:
    impls = [table.c[name].type.dialect_impl(dialect) for name in columns]
    return Reader([impl.result_processor(dialect, None) for impl in impls])


@lru_cache(maxsize=64)
def _binder(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> Binder:
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    return Binder(columns, processors)


# The builders below put only the tables' own identifiers and placeholders into SQL text;
# every value travels as a parameter.


@lru_cache(maxsize=256)
def _insert_sql(
    postgres: bool,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: int,
    ignore_conflicts: bool,
    returning: tuple[str, ...],
) -> str:
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "  # noqa: S608 - see above
    sql += _rows_of_marks(postgres, rows, len(columns))
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return sql


@lru_cache(maxsize=64)
def _update_sql(
    postgres: bool,
    table: sa.Table,
    assignments: tuple[tuple[str, str], ...],
    where: tuple[str, ...],
    where_in: tuple[str, int] | None,
) -> str:
    marks = iter(_marks(postgres, len(assignments) + len(where), 0).split(", "))
    sets = ", ".join(
        f"{column} = {expression.format(next(marks))}" for column, expression in assignments
    )
    tests = [f"{column} = {next(marks)}" for column in where]
    if where_in is not None:
        column, count = where_in
        tests.append(f"{column} IN ({_marks(postgres, count, len(assignments) + len(where))})")
    return f"UPDATE {table.name} SET {sets} WHERE {' AND '.join(tests)}"  # noqa: S608 - see above


@lru_cache(maxsize=64)
def _select_in_sql(
    postgres: bool,
    table: sa.Table,
    columns: tuple[str, ...],
    where_in: tuple[tuple[str, int], ...],
    order_by: str,
    for_update: bool,
) -> str:
    tests, start = [], 0
    for column, count in where_in:
        tests.append(f"{column} IN ({_marks(postgres, count, start)})")
        start += count
    sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {' AND '.join(tests)}"  # noqa: S608 - see above
    sql += f" ORDER BY {order_by}"
    return sql + (" FOR UPDATE" if for_update and postgres else "")


@lru_cache(maxsize=256)
def _marks(postgres: bool, count: int, start: int) -> str:
    if postgres:
        return ", ".join(f"${i}" for i in range(start + 1, start + count + 1))
    return ", ".join("?" * count)


@lru_cache(maxsize=256)
def _rows_of_marks(postgres: bool, rows: int, columns: int) -> str:
    return ", ".join(f"({_marks(postgres, columns, r * columns)})" for r in range(rows))
