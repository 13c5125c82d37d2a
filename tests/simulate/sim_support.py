"""Running the simulator against a real gateway in a test: the gateway's clock follows the
simulation's, so a day runs in seconds and the gateway sees every ping at its recorded time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.platform.appkeys import CLOCK
from gateway.platform.clock import Clock
from gateway.platform.settings import Settings
from gateway.simulate.clock import SimClock
from tests.support import Store


class FollowingClock(Clock):
    """The gateway's clock, reading the simulation's."""

    def __init__(self, sim: SimClock) -> None:
        super().__init__()
        self._sim = sim

    def now(self) -> datetime:
        return self._sim.now()


@dataclass
class SimGateway:
    server: TestServer
    clock: SimClock

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


def sim_gateway_fixture(speedup: float) -> Any:
    @pytest.fixture
    async def sim_gateway(aiohttp_server: Any, settings: Settings) -> AsyncIterator[SimGateway]:
        clock = SimClock(datetime.now(UTC), speedup)
        app = create_app(settings)
        app[CLOCK] = FollowingClock(clock)
        yield SimGateway(await aiohttp_server(app), clock)

    return sim_gateway


async def store_call(
    gateway: SimGateway, store: Store, method: str, path: str, **kwargs: Any
) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, gateway.url + path, headers=store.headers, **kwargs) as response,
    ):
        assert response.status < 300, await response.text()
        return await response.json() if response.status != 204 else None
