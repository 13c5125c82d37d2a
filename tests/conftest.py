"""Real services for the suite: PostgreSQL and Redis per session, a fresh database per test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.db import create_engine
from gateway.platform.http.edge import SERVER_OPTIONS
from gateway.platform.migrate import upgrade
from gateway.platform.settings import Settings, load_settings
from gateway.platform.vault import install_keys
from gateway.schema import metadata
from gateway.worker import build_worker
from tests.services import start_postgres, start_redis
from tests.support import SECRET_KEY

BACKENDS = ("sqlite", "postgresql")
pytest_plugins = ["tests.fakes.provider_fixtures"]  # fake Twilio/SendGrid/Google (issue 5)


@pytest.fixture(autouse=True)
def secret_keys() -> None:
    """Every test starts with the session's key installed (a test may install others)."""
    install_keys(SECRET_KEY)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with start_redis() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with start_postgres() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend (the test runs once per backend)."""
    if request.param == "sqlite":
        path = tmp_path / "lastmile.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


def _truncate_postgres(url: str) -> None:
    async def truncate() -> None:
        async_engine = create_engine(url)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        async with async_engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
        await async_engine.dispose()

    asyncio.run(truncate())


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def settings(database_url: str, redis_url: str, redis: Redis, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        database_url=database_url,
        redis_url=redis_url,
        dev=True,
        public_url="http://gateway.test",
        outbox_poll_s=0.05,
        secret_key=SECRET_KEY,
        proof_storage=str(tmp_path / "proofs"),
    )


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    # Started here with the production server options: aiohttp's TestServer drops the ones
    # given to its constructor (and so pytest-aiohttp's server_kwargs).
    server = TestServer(create_app(settings))
    await server.start_server(**SERVER_OPTIONS)
    client: TestClient[Any, Any] = await aiohttp_client(server)
    return client


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


BurstWorker = Callable[..., Worker]


@pytest.fixture
async def burst_worker(engine: AsyncEngine) -> AsyncIterator[BurstWorker]:
    """Builds real arq workers in burst mode: `await worker.run_check()` drains the queue.

    `burst_worker(settings, **ctx)`: `ctx` reaches the jobs (a fast retry schedule, channels,
    ...). The test's engine is shared and the relay left to the test; every worker built is
    closed after the test.
    """
    built: list[Worker] = []

    def build(settings: Settings, **ctx: Any) -> Worker:
        assert settings.redis_url
        worker = build_worker(
            settings,
            settings.redis_url,
            burst=True,
            handle_signals=False,
            poll_delay=0.01,
            ctx={"db": engine, "run_relay": False, **ctx},
        )
        built.append(worker)
        return worker

    yield build
    for worker in built:
        await worker.close()


@pytest.fixture
async def worker(settings: Settings, burst_worker: BurstWorker) -> Worker:
    """A burst worker with the suite's settings (async: arq binds a worker to the running loop)."""
    return burst_worker(settings)


@pytest.fixture
async def arq_redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = ArqRedis.from_url(redis_url)
    yield pool
    await pool.aclose()
