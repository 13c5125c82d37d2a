"""Numbers in query strings are ASCII digits: Unicode digits such as '¹' are a 400 naming the
parameter, never a 500 (schemathesis found `GET /v1/routes?limit=¹`)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.http.query import is_ascii_digits
from tests.support import make_store


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/routes", "limit"),
        ("/v1/drivers", "limit"),
        ("/v1/notifications?status=sent", "limit"),
        ("/v1/ratings", "limit"),
    ],
)
# superscripts and Arabic-Indic digits: str.isdigit() says yes, int() says no
@pytest.mark.parametrize("value", ["¹", "²0", "\u0663", "1\u0660"])
async def test_unicode_digits_are_a_400_naming_the_parameter(
    client: TestClient[Any, Any], engine: AsyncEngine, path: str, parameter: str, value: str
) -> None:
    store = await make_store(engine)
    response = await client.get(path, params={parameter: value}, headers=store.headers)
    assert response.status == 400, await response.text()
    assert parameter in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", True),
        ("50", True),
        ("", False),
        ("¹", False),
        ("\u0663", False),
        ("-1", False),
        (" 1", False),
    ],
)
def test_is_ascii_digits(text: str, expected: bool) -> None:
    assert is_ascii_digits(text) is expected
