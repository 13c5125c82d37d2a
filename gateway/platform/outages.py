"""Telling an outage (the database or Redis is away for a while) from a bug, and waiting it out.

Processes keep running through outages: ingest answers 503 with `Retry-After`, jobs come back
later, the worker and the relay reconnect with back-off. Only the errors below count as an
outage; anything else is a bug and is reported as one.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from typing import Final

import redis.exceptions
import sqlalchemy.exc

# PostgreSQL SQLSTATEs of a server going away or not there yet: class 08 (connection exception),
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up).
_PG_UNAVAILABLE: Final = ("08", "57P01", "57P02", "57P03")
# SQLite errors that pass (another process holds the lock), unlike "no such table".
_SQLITE_TRANSIENT: Final = ("database is locked", "unable to open database", "disk i/o error")
RETRY_AFTER_S: Final = 5  # what a 503 tells the caller


class DatabaseUnavailable(Exception):
    """The database could not be reached (restarting, network): try again later."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _database_gone(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable | sqlalchemy.exc.TimeoutError):
        return True  # ours, or no pooled connection came free in time
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if isinstance(exc.orig, sqlite3.Error):
            return str(exc.orig).lower().startswith(_SQLITE_TRANSIENT)
        return exc.connection_invalidated or isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        )
    sqlstate = getattr(exc, "sqlstate", None)  # asyncpg raises some errors unwrapped on connect
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_UNAVAILABLE):
        return True
    return isinstance(exc, OSError | TimeoutError)  # refused, reset: the driver's own socket


def database_unreachable(exc: BaseException) -> bool:
    """Does `exc` (or what caused it) say the database is away, rather than a bad statement?"""
    return any(_database_gone(link) for link in _chain(exc))


def redis_unreachable(exc: BaseException) -> bool:
    """Does `exc` say Redis is away (refused, reset, timed out, still loading its data)?"""
    return any(
        isinstance(
            link,
            redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OSError,
        )
        for link in _chain(exc)
    )


def unreachable(exc: BaseException) -> bool:
    """The database or Redis is away: wait and try again; anything else is a bug."""
    return redis_unreachable(exc) or database_unreachable(exc)


class Backoff:
    """Exponential delays with ±20 % jitter, capped; `reset()` after a success."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._next_s = first_s
        self.failures = 0

    def next_delay_s(self) -> float:
        """The wait before the next try; each call doubles the following one up to the cap."""
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        self.failures += 1
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        self._next_s = self._first_s
        self.failures = 0
