"""Engine creation: one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option for connections that only read (`await conn.execution_options(**{READ_ONLY:
# True})`): on SQLite they begin deferred, so they never queue behind writers for the lock.
READ_ONLY: Final = "lastmile_read_only"


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and IMMEDIATE write transactions."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=pool_size
        )
        tune_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_sync_sqlite_engine(database_url: str) -> sa.Engine:
    """A blocking engine on the same SQLite file, for work done wholly inside one thread."""
    url = sa.make_url(database_url).set(drivername="sqlite+pysqlite")
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    tune_sqlite(engine)
    return engine


def tune_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver so SQLAlchemy's "begin" below decides how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",  # durable across process crashes in WAL mode
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # a reader: WAL gives it a snapshot, no lock to wait on
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
        # fail with SQLITE_BUSY without waiting when another process (the worker) holds it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
