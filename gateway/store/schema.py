"""Every table module, imported once, so `metadata` knows the whole schema (tests, Alembic)."""

from __future__ import annotations

from gateway.store import tables

metadata = tables.metadata

__all__ = ["metadata"]
