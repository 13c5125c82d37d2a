"""The throwaway services the suite runs against come up and answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.services import (
    POSTGRES_BIN_DIR_ENV,
    POSTGRES_DATABASE,
    POSTGRES_URL_ENV,
    REDIS_URL_ENV,
    PostgresNotAvailable,
    start_postgres,
    start_redis,
)


async def test_postgres_answers() -> None:
    with start_postgres() as url:
        assert url.startswith("postgresql+asyncpg://")
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
                database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
                version = (await conn.execute(text("SHOW server_version_num"))).scalar_one()
        finally:
            await engine.dispose()
    assert int(version) >= 150000
    if not os.environ.get(POSTGRES_URL_ENV):
        assert database == POSTGRES_DATABASE


async def test_redis_answers() -> None:
    with start_redis() as url:
        client = aioredis.Redis.from_url(url)
        try:
            assert await client.ping() is True
        finally:
            await client.aclose()


def test_external_urls_are_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSTGRES_URL_ENV, "postgresql+asyncpg://u@db.invalid:1/x")
    monkeypatch.setenv(REDIS_URL_ENV, "redis://redis.invalid:1/0")
    with start_postgres() as pg_url, start_redis() as redis_url:
        assert pg_url == "postgresql+asyncpg://u@db.invalid:1/x"
        assert redis_url == "redis://redis.invalid:1/0"


def test_missing_postgres_binaries_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.setenv(POSTGRES_BIN_DIR_ENV, str(tmp_path))
    with pytest.raises(PostgresNotAvailable, match="initdb"), start_postgres():
        pass
