"""What customers and other areas see of an in-house delivery: "N stops away", the driver's ETA on
the page and in the API, the live view; and token checks that fail closed on any input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from arq.worker import Worker
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.drivers import proof_links, tokens
from gateway.drivers.shipment_view import live_stop
from gateway.platform.appkeys import CLOCK
from tests.drivers.city import BLOCK_M, T0, Drive, blocks, path_latlon
from tests.drivers.drivers_support import (
    add_driver,
    add_route,
    add_shipment,
    get_route,
    send_pings,
    stop_event,
)
from tests.drivers.trips import Trip, drain, notified, quiet
from tests.support import make_store

SECRETS = {"d1": b"k" * 32}


async def test_n_stops_away_tells_each_customer_once_as_the_day_moves_on(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker
) -> None:
    client.app[CLOCK].freeze(T0)
    store = await make_store(engine)
    await quiet(client, store)
    driver = await add_driver(client, store)
    shipments = [
        await add_shipment(client, store, f"N{i}", (i * 4 * BLOCK_M, 0), phone=f"+1555555012{i}")
        for i in range(1, 5)
    ]
    await add_route(client, store, driver, shipments, notify_stops_away=1)

    await Trip(client, driver).send(Drive((0, 0)).wait(20).pings(seed=1))  # the day starts
    await drain(engine, worker)
    told = [[e for e, _ in await notified(engine, s)].count("arriving") for s in shipments]
    assert told == [1, 1, 0, 0]  # the next stop and the one after it

    client.app[CLOCK].freeze(T0 + timedelta(minutes=5))
    response = await stop_event(
        client, driver, shipments[0], "delivered", T0 + timedelta(minutes=4)
    )
    assert response.status == 201
    # Arriving by GPS at stop 2 changes nothing for its customer: told already.
    drive = Drive((3.5 * 4 * BLOCK_M, 0), t0=T0 + timedelta(minutes=5))
    await Trip(client, driver).send(drive.to((8 * BLOCK_M, 0), speed_mps=8).pings(seed=2))
    await drain(engine, worker)
    told = [[e for e, _ in await notified(engine, s)].count("arriving") for s in shipments]
    assert told == [1, 1, 1, 0]


async def test_the_drivers_eta_shows_on_the_page_in_the_api_and_in_the_live_view(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    now = datetime(2026, 3, 16, 18, 0, tzinfo=UTC)  # 1 PM in Chicago
    client.app[CLOCK].freeze(now)
    store = await make_store(engine)
    driver = await add_driver(client, store)
    corners = blocks(("E", 10))
    target = await add_shipment(client, store, "V1", corners[-1], timezone="America/Chicago")
    route = await add_route(client, store, driver, [target], path=path_latlon(corners))
    pings = Drive((0, 0), t0=now - timedelta(minutes=2)).to((900, 0), speed_mps=8).pings(seed=4)
    await send_pings(client, driver, pings)

    [stop] = (await get_route(client, store, route["id"]))["stops"]
    eta = datetime.fromisoformat(stop["eta"].replace("Z", "+00:00"))
    assert now < eta < now + timedelta(minutes=10)
    shipment = await (await client.get(f"/v1/shipments/{target}", headers=store.headers)).json()
    assert shipment["eta"] == stop["eta"]
    link = await client.post(f"/v1/shipments/{target}/tracking-link", headers=store.headers)
    page = await client.get((await link.json())["url"].removeprefix("http://gateway.test"))
    local = eta.astimezone(ZoneInfo("America/Chicago"))
    expected = f"Your driver expects to arrive around {local.hour % 12 or 12}:{local.minute:02d}"
    html = await page.text()
    assert expected in html
    assert "DRIVER" not in html and "Acme" in html  # the store is the carrier

    async with engine.connect() as conn:
        live = await live_stop(conn, target)
    assert live is not None
    assert (live.driver_id, live.route_id, live.stops_before) == (driver.id, route["id"], 0)
    assert live.eta == eta and live.driver_position is not None
    assert live.driver_position.recorded_at == pings[-1].recorded_at


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_token_checks_never_raise_and_never_accept_garbage(token: str) -> None:
    now = T0
    assert tokens.verify(token, SECRETS, now) is None
    assert proof_links.verify(token, SECRETS, now) is None
    tokens.claimed_kid(token)
    proof_links.claimed_kid(token)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.sampled_from("AZaz09-_.="))
def test_one_changed_character_breaks_a_token(position: int, replacement: str) -> None:
    good, _ = tokens.mint(
        SECRETS["d1"], "d1", driver_id="drv_1", tenant_id="ten_1", version=1, now=T0
    )
    index = position % len(good)
    tampered = good[:index] + replacement + good[index + 1 :]
    if tampered != good:
        claims = tokens.verify(tampered, SECRETS, T0 + timedelta(minutes=1))
        # base64 padding bits can absorb a change in the last character of a part
        assert claims is None or (claims.driver_id, claims.tenant_id) == ("drv_1", "ten_1")
    assert tokens.verify(good, SECRETS, T0 + timedelta(minutes=1)) is not None
