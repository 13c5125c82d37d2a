"""Every table module, imported once, so `metadata` knows the whole schema (tests, Alembic)."""

from __future__ import annotations

from gateway.store import notification_tables as _notification_tables  # noqa: F401
from gateway.store import tables
from gateway.store import tracking_tables as _tracking_tables  # noqa: F401
from gateway.store import webhook_tables as _webhook_tables  # noqa: F401

metadata = tables.metadata

__all__ = ["metadata"]
