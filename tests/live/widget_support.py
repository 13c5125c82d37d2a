"""Helpers for the widget's HTTP and browser tests against the real gateway."""

from __future__ import annotations

from typing import Any, Final

from aiohttp.test_utils import TestClient

from tests.support import Store

SHOP: Final = "https://shop.example"


async def widget_token(
    client: TestClient[Any, Any], store: Store, shipment_id: str, origin: str = SHOP, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/widget-tokens",
        json={"shipment_id": shipment_id, "origin": origin, **extra},
        headers=store.headers,
    )
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    return data
