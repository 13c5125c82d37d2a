"""What the chat needs to know about drivers and their stops, read through the drivers area.

A conversation is about one stop: the shipment's stop on its newest open route. Its driver is
who the customer talks to; the stop's state says whether they may (gateway/chat/rules.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.chat.relay import ChatStop
from gateway.chat.rules import may_chat
from gateway.chat.store import newest_customer_message_at
from gateway.drivers import store as driver_store
from gateway.drivers import store_routes
from gateway.drivers.model import Route, Stop

NEVER: Final = datetime.min.replace(tzinfo=UTC)


async def stop_for_shipment(
    conn: AsyncConnection, shipment_id: str, driver_id: str | None = None
) -> ChatStop | None:
    """The shipment's stop on its newest route, open ones first (with `driver_id`: only on that
    driver's routes). Its state says whether the two sides may talk (rules.may_chat)."""
    found = await store_routes.stop_of_shipment(conn, shipment_id, driver_id)
    if found is None:
        return None
    route, stop = found
    return await _chat_stop(conn, route, stop)


async def stop_state(conn: AsyncConnection, shipment_id: str) -> str | None:
    """The state of the shipment's stop on its newest route (the page: may the customer write?)."""
    found = await store_routes.stop_of_shipment(conn, shipment_id)
    return found[1].state.value if found else None


async def open_stops_of_driver(conn: AsyncConnection, driver_id: str) -> list[ChatStop]:
    """The driver's stops they may talk about now (their next stop, a stop they reached)."""
    routes = await store_routes.open_routes_of_driver(conn, driver_id)
    stops = await store_routes.stops_of(conn, [route.id for route in routes])
    by_id = {route.id: route for route in routes}
    return [
        await _chat_stop(conn, by_id[stop.route_id], stop)
        for stop in stops
        if may_chat(stop.state.value)
    ]


async def stop_for_driver_phone(conn: AsyncConnection, phone: str) -> ChatStop | None:
    """The stop a driver's SMS is about: their next (or reached) stop, the one whose customer
    wrote last when there are several; None when the number is no driver's or nothing is open."""
    candidates: list[ChatStop] = []
    for driver in await driver_store.by_phone(conn, phone):
        candidates += await open_stops_of_driver(conn, driver.id)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    newest = await newest_customer_message_at(conn, [c.shipment_id for c in candidates])
    return max(candidates, key=lambda c: newest.get(c.shipment_id, NEVER))


async def driver_phone(conn: AsyncConnection, tenant_id: str, driver_id: str | None) -> str | None:
    """The driver's number now (None: no driver, or deleted since)."""
    if driver_id is None:
        return None
    driver = await driver_store.get(conn, tenant_id, driver_id)
    return driver.phone if driver else None


async def _chat_stop(conn: AsyncConnection, route: Route, stop: Stop) -> ChatStop:
    phone = await driver_phone(conn, route.tenant_id, route.driver_id)
    return ChatStop(stop.shipment_id, route.driver_id, phone, stop.state.value)
