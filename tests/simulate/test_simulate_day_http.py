"""A simulated day against a real gateway (real HTTP, real Redis, a real worker), the gateway's
clock following the simulation at 100x: each alert fires once, where the story says it should,
and the signed delivery is on the customer's tracking page without the photo's GPS."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime
from typing import Any

import aiohttp
from arq.worker import Worker
from PIL import Image
from PIL.ExifTags import IFD
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.simulate.runner import Options, simulate
from gateway.simulate.scenario import build_day
from tests.drivers.trips import drain, received, receiver
from tests.simulate.sim_support import SimGateway, sim_gateway_fixture, store_call
from tests.store_webhooks.whk_receiver import Receiver
from tests.support import make_store

__all__ = ["receiver", "sim_gateway"]  # fixtures

SPEEDUP = 100.0
sim_gateway = sim_gateway_fixture(SPEEDUP)
ALERT_EVENTS = ["driver.arriving", "driver.off_route", "driver.back_on_route", "shipment.late"]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_simulated_day_fires_each_alert_once(
    sim_gateway: SimGateway, engine: AsyncEngine, worker: Worker, receiver: Receiver
) -> None:
    store = await make_store(engine)
    hook = {"url": receiver.url(), "event_types": ALERT_EVENTS}
    secret = (await store_call(sim_gateway, store, "POST", "/v1/webhook-endpoints", json=hook))[
        "secret"
    ]
    quiet = {"quiet_hours": None, "collapse_window_s": 0}
    await store_call(sim_gateway, store, "PATCH", "/v1/notification-settings", json=quiet)

    options = Options(sim_gateway.url, store.api_key, seed=7, speedup=SPEEDUP, rounds=1)
    tally = await simulate(options, clock=sim_gateway.clock)

    assert tally.errors == []
    assert tally.refused["implausible_speed"] > 0 and tally.refused["duplicate"] > 0  # noise
    assert tally.carrier_events == 12 and tally.ratings == 4
    plan, setup = build_day(7), tally.rounds[0]
    ids = {key: shipment["id"] for key, shipment in setup.shipments.items()}
    stop_of = {ids[s.key]: s for d in plan.drivers for s in d.stops}

    alerts = (await store_call(sim_gateway, store, "GET", "/v1/alerts?limit=200"))["alerts"]
    alerts.reverse()  # oldest first
    assert Counter(a["kind"] for a in alerts) == {
        "off_route": 1,
        "back_on_route": 1,
        "late": 2,
        "failed_attempt": 1,
        "low_rating": 1,
    }
    by_kind = {a["kind"]: a for a in alerts}

    luis = next(d for d in plan.drivers if d.key == "luis")
    detour_from = sim_gateway.clock.at(setup.start_s + luis.stops[1].leave_s)
    detour_to = sim_gateway.clock.at(setup.start_s + luis.stops[2].arrive_s)
    off, back = by_kind["off_route"], by_kind["back_on_route"]
    assert off["route_id"] == back["route_id"] == setup.routes["luis"]
    assert detour_from < _when(off["occurred_at"]) < _when(back["occurred_at"]) < detour_to
    assert off["data"]["distance_m"] > 250

    late = [a for a in alerts if a["kind"] == "late"]
    assert {a["shipment_id"] for a in late} == {ids["priya-3"]}
    assert [a["data"]["reason"] for a in late] == ["eta_after_promise", "promise_passed"]
    promised = _when(late[0]["data"]["promised_by"])
    assert _when(late[0]["occurred_at"]) < promised  # warned before the promise passed

    assert by_kind["failed_attempt"]["shipment_id"] == ids["sam-2"]
    assert by_kind["low_rating"]["shipment_id"] == ids["sam-1"]

    await drain(engine, worker)
    arriving = [d["shipment_id"] for d in received(receiver, secret, "driver.arriving")]
    assert sorted(arriving) == sorted(stop_of)  # every stop once, none twice
    assert len(received(receiver, secret, "driver.off_route")) == 1
    assert len(received(receiver, secret, "driver.back_on_route")) == 1

    routes = [
        await store_call(sim_gateway, store, "GET", f"/v1/routes/{route_id}")
        for route_id in setup.routes.values()
    ]
    states = {s["shipment_id"]: s["state"] for r in routes for s in r["stops"]}
    assert {r["state"] for r in routes} == {"done"}
    assert states == {i: "failed" if i == ids["sam-2"] else "done" for i in stop_of}

    await _proof_on_the_page(sim_gateway, setup.shipments["maya-2"])


async def _proof_on_the_page(gateway: SimGateway, shipment: dict[str, Any]) -> None:
    path = shipment["tracking_url"].split("://", 1)[1].split("/", 1)[1]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/{path}") as page:
            html = await page.text()
        assert page.status == 200 and "Jordan Alvarez" in html
        sources = [part.split('"', 1)[0] for part in html.split('class="pod-photo" src="')[1:]]
        assert len(sources) == 1
        async with session.get(gateway.url + sources[0].replace("&amp;", "&")) as image:
            assert image.status == 200 and image.content_type == "image/jpeg"
            photo = Image.open(io.BytesIO(await image.read()))
    assert photo.size[0] >= 600
    assert not photo.getexif().get_ifd(IFD.GPSInfo)  # the phone's position was stripped
