"""schemathesis against /openapi.json: every /v1 operation, generated requests, a bounded number
of examples each. No 5xx; every status is documented; every JSON body matches its schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.http.edge import SERVER_OPTIONS
from gateway.platform.settings import Settings
from tests.support import make_store

MAX_EXAMPLES: Final = 15  # per operation and mode: CI time stays bounded
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
async def live_gateway(settings: Settings) -> AsyncIterator[str]:
    """The gateway on a real port, as `lastmile serve` runs it; its base URL."""
    runner = web.AppRunner(create_app(settings), **SERVER_OPTIONS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


def _fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Runs in a thread (schemathesis calls with `requests`); returns one line per failure."""
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            try:
                call()
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures


async def test_every_operation_answers_as_documented(
    live_gateway: str, engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{live_gateway}/openapi.json") as response,
    ):
        document = await response.json()

    failures = await asyncio.to_thread(_fuzz, document, live_gateway, store.headers)

    assert not failures, "\n\n".join(failures)
