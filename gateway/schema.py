"""Every area's tables, imported once, so `metadata` knows the whole schema (Alembic, tests)."""

from __future__ import annotations

from gateway.carriers import tables as _carriers  # noqa: F401
from gateway.chat import tables as _chat  # noqa: F401
from gateway.drivers import tables as _drivers  # noqa: F401
from gateway.live import tables as _live  # noqa: F401
from gateway.notifications import tables as _notifications  # noqa: F401
from gateway.platform.tables import metadata
from gateway.shipments import tables as _shipments  # noqa: F401
from gateway.store_webhooks import tables as _store_webhooks  # noqa: F401
from gateway.tenants import tables as _tenants  # noqa: F401
from gateway.tracking import tables as _tracking  # noqa: F401

__all__ = ["metadata"]
