"""Pytest fixtures for the fake providers (loaded by `pytest_plugins` in tests/conftest.py).

- `fake_providers`: the three fakes running, their URLs and the service-account JSON.
- `provider_settings`: the suite's `settings` (database, Redis) sending through the fakes.
- `bare_provider_settings`: the same without a database or Redis, for channel-only tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.platform.settings import Settings, load_settings
from tests.fakes.fake_google import ServiceAccountKey, generate_service_account_key
from tests.fakes.fake_providers import FakeProviders, running_fake_providers


@pytest.fixture(scope="session")
def service_account_key() -> ServiceAccountKey:
    """One RSA key per session: generating it takes a while."""
    return generate_service_account_key()


@pytest.fixture
async def fake_providers(
    tmp_path: Path, service_account_key: ServiceAccountKey
) -> AsyncIterator[FakeProviders]:
    async with running_fake_providers(tmp_path, key=service_account_key) as providers:
        yield providers


@pytest.fixture
def provider_settings(settings: Settings, fake_providers: FakeProviders) -> Settings:
    return settings.model_copy(update=fake_providers.settings_overrides())


@pytest.fixture
def bare_provider_settings(fake_providers: FakeProviders) -> Settings:
    return load_settings({}, dev=True).model_copy(update=fake_providers.settings_overrides())
