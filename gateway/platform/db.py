"""Engine creation: one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option for connections that only read (`await conn.execution_options(**{READ_ONLY:
# True})`): on SQLite they begin deferred, so they never queue behind writers for the lock.
READ_ONLY: Final = "lastmile_read_only"
WRITE_LOCK_TIMEOUT_S: Final = 30.0
WRITE_LOCK_POLL_S: Final = 0.0005


def create_engine(database_url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and IMMEDIATE write transactions.

    `pre_ping=False` (PostgreSQL) saves three round trips per checkout; the caller must then
    retry a transaction that failed on a connection found dead (`connection_invalidated`).
    """
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=pool_size
        )
        tune_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping
    )


def create_sync_sqlite_engine(database_url: str, *, poll_write_lock: bool = False) -> sa.Engine:
    """A blocking engine on the same SQLite file, for work done wholly inside one thread.

    `poll_write_lock`: wait for the write lock by retrying every half millisecond instead of
    through SQLite's busy handler, whose sleeps grow to 100 ms: a hot writer (ingest) then gets
    the lock soon after another process (the worker) lets go of it, not up to 100 ms later.
    """
    url = sa.make_url(database_url).set(drivername="sqlite+pysqlite")
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    tune_sqlite(engine, poll_write_lock=poll_write_lock)
    return engine


def _begin_polling(dbapi_connection: Any) -> None:
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT_S
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(WRITE_LOCK_POLL_S)


def tune_sqlite(engine: sa.Engine, *, poll_write_lock: bool = False) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver so SQLAlchemy's "begin" below decides how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",  # durable across process crashes in WAL mode
            # Polling writers wait in _begin_polling; SQLite itself only briefly.
            f"busy_timeout={1 if poll_write_lock else 1000 * WRITE_LOCK_TIMEOUT_S:.0f}",
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
        if poll_write_lock:
            _begin_polling(conn.connection.dbapi_connection)
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE")
