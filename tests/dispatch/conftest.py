"""The console tests' client keeps no cookies: each test sends the ones it means to send."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.platform.settings import Settings


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings), cookie_jar=DummyCookieJar()
    )
    return client
