"""Before a round starts: the simulation's drivers (fresh tokens), the round's shipments with
their promises, one route per driver with its planned path, and the carrier parcels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from gateway.simulate.api import Gateway, utc
from gateway.simulate.city import latlon
from gateway.simulate.clock import SimClock
from gateway.simulate.scenario import (
    RADIUS_M,
    SERVICE_S,
    DayPlan,
    DriverPlan,
    ParcelPlan,
    StopPlan,
)

DRIVER_CARRIER: Final = "driver"
TIMEZONE: Final = "America/Chicago"


@dataclass(frozen=True, slots=True)
class Enlisted:
    driver_id: str
    token: str


@dataclass
class RoundSetup:
    """What the gateway gave back for one round, by the plan's keys."""

    start_s: float  # the round's zero on the simulation clock
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)  # stop or parcel key
    routes: dict[str, str] = field(default_factory=dict)  # driver key -> route id
    tracking_numbers: dict[str, str] = field(default_factory=dict)  # parcel key -> number


async def enlist(gateway: Gateway, plan: DayPlan) -> dict[str, Enlisted]:
    """A fresh driver (and token) for each of the cast, by driver key.

    Drivers left by an earlier run (same name and phone) are deleted first: their open routes
    would otherwise keep claiming the new pings (a driver works the oldest active route).
    """
    existing = await gateway.drivers()
    enlisted = {}
    for driver in plan.drivers:
        for old in existing:
            if old["name"] == driver.name and str(old.get("phone") or "")[-4:] == driver.phone[-4:]:
                await gateway.delete_driver(old["id"])
        driver_id, token = await gateway.create_driver(driver.name, driver.phone)
        enlisted[driver.key] = Enlisted(driver_id, token)
    return enlisted


async def prepare_round(
    gateway: Gateway,
    plan: DayPlan,
    enlisted: dict[str, Enlisted],
    clock: SimClock,
    start_s: float,
    run_id: str,
) -> RoundSetup:
    setup = RoundSetup(start_s)
    for driver in plan.drivers:
        for number, stop in enumerate(driver.stops):
            body = _stop_shipment(plan, driver, number, stop, clock, start_s, run_id)
            setup.shipments[stop.key] = await gateway.register_shipment(body)
        route = _route(driver, enlisted[driver.key], setup, clock, start_s)
        setup.routes[driver.key] = str((await gateway.create_route(route))["id"])
    for index, parcel in enumerate(plan.parcels):
        tracking = f"77{plan.round:02d}{int(run_id, 16) % 10**6:06d}{index:02d}"
        setup.tracking_numbers[parcel.key] = tracking
        setup.shipments[parcel.key] = await gateway.register_shipment(
            _parcel_shipment(parcel, tracking, index)
        )
    return setup


def _recipient(name: str, index: int) -> dict[str, Any]:
    first, last = name.lower().split(" ", 1)
    return {
        "name": name,
        "phone": f"+1312555{110 + index:04d}",  # 555-01xx: numbers kept for fiction
        "email": f"{first}.{last.replace(' ', '')}@example.com",
        "locale": "en-US",
        "timezone": TIMEZONE,
    }


def _destination(stop_or_parcel: StopPlan | ParcelPlan) -> dict[str, Any]:
    lat, lon = latlon(stop_or_parcel.point)
    return {"address": f"{stop_or_parcel.address}, Chicago, IL", "lat": lat, "lon": lon}


def _promise(clock: SimClock, offset_s: float) -> datetime:
    """A promise as stores make them: on a whole minute."""
    moment = clock.at(offset_s)
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _stop_shipment(
    plan: DayPlan,
    driver: DriverPlan,
    number: int,
    stop: StopPlan,
    clock: SimClock,
    start_s: float,
    run_id: str,
) -> dict[str, Any]:
    index = [d.key for d in plan.drivers].index(driver.key) * 10 + number
    return {
        "tracking_number": f"LM-{run_id}-{plan.round + 1:02d}{index:03d}",
        "carrier": DRIVER_CARRIER,
        "order_id": f"SIM-{plan.round:02d}-{index:03d}",
        "recipient": _recipient(stop.customer, index),
        "destination": _destination(stop),
        "promised_by": utc(_promise(clock, start_s + stop.promised_by_s)),
    }


def _route(
    driver: DriverPlan, enlisted: Enlisted, setup: RoundSetup, clock: SimClock, start_s: float
) -> dict[str, Any]:
    end_s = math.ceil(driver.end_s / 3600 + 1) * 3600
    return {
        "driver_id": enlisted.driver_id,
        "stops": [
            {
                "shipment_id": setup.shipments[s.key]["id"],
                "service_s": SERVICE_S,
                "radius_m": RADIUS_M,
            }
            for s in driver.stops
        ],
        "path": [list(latlon(point)) for point in driver.path],
        "window": {"start": utc(clock.at(start_s)), "end": utc(clock.at(start_s + end_s))},
    }


def _parcel_shipment(parcel: ParcelPlan, number: str, index: int) -> dict[str, Any]:
    return {
        "tracking_number": number,
        "carrier": "fedex",
        "order_id": f"SIM-FDX-{index:02d}",
        "recipient": _recipient(parcel.customer, 50 + index),
        "destination": _destination(parcel),
    }
