"""Fixtures of the fault suite: its own restartable PostgreSQL, Redis, fakes and cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.db import create_engine
from gateway.platform.migrate import upgrade
from gateway.schema import metadata
from tests.fakes.fake_providers import serve
from tests.fakes.fake_twilio import FakeTwilio
from tests.faults.harness import Cluster, Hooks, RestartableRedis
from tests.services import PostgresServer, postgres_server


@pytest.fixture(scope="module")
def fault_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the suite's own: a test restarts it, so it is never the shared one."""
    with postgres_server() as server:
        upgrade(server.url)
        yield server


@pytest.fixture
async def fault_engine(fault_postgres: PostgresServer) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fault_postgres.url)
    async with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def fault_redis() -> Iterator[RestartableRedis]:
    redis = RestartableRedis()
    redis.start()
    yield redis
    redis.close()


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTwilio, str, Hooks, str]]:
    """(fake Twilio, its URL, the store's receiver, the receiver's hook URL)."""
    twilio, hooks = FakeTwilio(), Hooks()
    async with AsyncExitStack() as stack:
        twilio_url = await stack.enter_async_context(serve(twilio.app()))
        hooks_url = await stack.enter_async_context(serve(hooks.app()))
        yield twilio, twilio_url, hooks, hooks_url + "/hook"
        hooks.release()


@pytest.fixture
def cluster(
    tmp_path: Path,
    fault_postgres: PostgresServer,
    fault_engine: AsyncEngine,
    fault_redis: RestartableRedis,
    fakes: tuple[FakeTwilio, str, Hooks, str],
) -> Iterator[Cluster]:
    twilio, twilio_url, _, _ = fakes
    cluster = Cluster(tmp_path, fault_postgres.url, fault_redis, twilio, twilio_url)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session
        await asyncio.sleep(0)
