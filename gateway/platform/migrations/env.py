"""Alembic environment: runs migrations on the async engine from the alembic config."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from gateway.platform.db import create_engine
from gateway.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:  # a failed migration (e.g. 0006 without a key) must not leak the connection
        await engine.dispose()


asyncio.run(_main())
