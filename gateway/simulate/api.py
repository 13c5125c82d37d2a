"""The gateway's public HTTP APIs as the simulation uses them: the store's merchant API (API
key), the driver app's API (each driver's token), carrier webhooks, the tracking page's rating.

Transient failures (connection errors, 502/503/504) are retried with backoff; anything else is a
SimulationError naming the call and the gateway's error code, never a token or a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from gateway.simulate.gps import Fix

log = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({502, 503, 504})
TIMEOUT: Final = aiohttp.ClientTimeout(total=30)


class SimulationError(Exception):
    """The gateway refused a call the simulation needs."""


class _Transient(Exception):
    pass


def utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Gateway:
    """One HTTP session to the gateway at `base_url`, speaking for the store with `api_key`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._store = {"Authorization": f"Bearer {api_key}"}

    async def _call(
        self, method: str, path: str, *, ok: Sequence[int] = (200, 201, 202, 204), **kw: Any
    ) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(5),
            wait=wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, ok, **kw)
        except _Transient as exc:
            raise SimulationError(f"{method} {_shape(path)}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, ok: Sequence[int], **kw: Any) -> Any:
        try:
            async with self._session.request(
                method, self._base + path, timeout=TIMEOUT, **kw
            ) as response:
                if response.status in RETRY_STATUSES:
                    raise _Transient(f"HTTP {response.status}")
                if response.status not in ok:
                    raise SimulationError(
                        f"{method} {_shape(path)}: HTTP {response.status} {await _code(response)}"
                    )
                if response.status == 204 or not response.content_type.endswith("json"):
                    return None
                return await response.json()
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise _Transient(type(exc).__name__) from exc

    # --- the store (API key) ---
    async def drivers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = await self._call(
                "GET", f"/v1/drivers?limit=200&cursor={cursor}", headers=self._store
            )
            found.extend(page["drivers"])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return found

    async def delete_driver(self, driver_id: str) -> None:
        await self._call("DELETE", f"/v1/drivers/{driver_id}", headers=self._store, ok=(204, 404))

    async def create_driver(self, name: str, phone: str) -> tuple[str, str]:
        body = await self._call(
            "POST", "/v1/drivers", json={"name": name, "phone": phone}, headers=self._store
        )
        return str(body["id"]), str(body["token"])

    async def register_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = await self._call(
            "POST", "/v1/shipments", json=shipment, headers=self._store
        )
        return body

    async def create_route(self, route: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = await self._call(
            "POST", "/v1/routes", json=route, headers=self._store
        )
        return body

    async def connect_fedex(self, secret: str) -> str:
        """A FedEx connection signed with `secret`; returns its webhook path on this gateway."""
        auth = {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": secret}
        body = await self._call(
            "POST",
            "/v1/carrier-connections",
            json={"carrier": "fedex", "auth": auth},
            headers=self._store,
        )
        return urlsplit(str(body["webhook_url"])).path

    # --- carriers (their own signature) ---
    async def carrier_webhook(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        await self._call("POST", path, data=body, headers=headers, ok=(202,))

    # --- the driver app (driver token) ---
    async def pings(
        self, token: str, fixes: Sequence[Fix], clock_at: Callable[[float], datetime]
    ) -> dict[str, Any]:
        pings = [
            {
                "lat": f.lat,
                "lon": f.lon,
                "recorded_at": utc(clock_at(f.t_s)),
                "accuracy_m": f.accuracy_m,
                "speed_mps": f.speed_mps,
                "heading": f.heading,
            }
            for f in fixes
        ]
        body: dict[str, Any] = await self._call(
            "POST", "/v1/driver/locations", json={"pings": pings}, headers=_bearer(token)
        )
        return body

    async def stop_event(
        self, token: str, shipment_id: str, kind: str, at: datetime, note: str | None = None
    ) -> None:
        body: dict[str, Any] = {"type": kind, "occurred_at": utc(at)}
        if note:
            body["note"] = note
        await self._call(
            "POST",
            f"/v1/driver/stops/{shipment_id}/events",
            json=body,
            headers=_bearer(token),
        )

    async def proof(
        self,
        token: str,
        shipment_id: str,
        *,
        photo: bytes,
        signature: bytes,
        recipient_name: str,
        at: datetime,
    ) -> None:
        form = aiohttp.FormData()
        form.add_field("photo", photo, filename="doorstep.jpg", content_type="image/jpeg")
        form.add_field("signature", signature, filename="signature.png", content_type="image/png")
        form.add_field("recipient_name", recipient_name)
        form.add_field("occurred_at", utc(at))
        await self._call(
            "POST", f"/v1/driver/stops/{shipment_id}/proof", data=form, headers=_bearer(token)
        )

    # --- customers (the tracking link is their capability) ---
    async def rate(self, tracking_url: str, score: int, comment: str) -> None:
        path = urlsplit(tracking_url).path
        await self._call("POST", f"{path}/rating", json={"score": score, "comment": comment})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _shape(path: str) -> str:
    """The path without ids or tokens (for messages): `/v1/driver/stops/…/events`."""
    parts = path.split("?")[0].split("/")
    return "/".join("…" if "_" in p or len(p) > 24 else p for p in parts)


async def _code(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json()
        return str(body["error"]["code"])
    except (aiohttp.ContentTypeError, ValueError, KeyError, TypeError):
        return ""
