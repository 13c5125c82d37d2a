"""Fixtures for the live browser tests: a fake gateway with one shipment, and a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.live.fake_gateway import FakeGateway
from tests.live.live_data import out_for_delivery
from tests.live.live_support import chromium

TOKEN = "tok-ofd"


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway()
    fake.add(TOKEN, out_for_delivery())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
