"""Synthetic drivers for `benchmarks/driver_pings.py`: routes set up through the public API and
noisy 1 Hz GPS traces, pre-serialized as the driver app would send them.

Positions are metres east/north of a point in Chicago, turned into [lat, lon] on a local plane.
Throughput drivers work a day: a 120 km route up and down the avenues of a 10 km city (the
planned path), a stop every 2 km where they park 3 minutes and the app posts `delivered`, so every
batch runs screening, geofence (arrivals), deviation, speed and an ETA for every open stop.
Latency drivers follow a straight avenue and leave it by 400 m for 110 s once per cycle:
`driver.off_route` then `driver.back_on_route`, at pings known in advance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import aiohttp
import numpy as np

ORIGIN: Final = (41.8781, -87.6298)
EARTH_RADIUS_M: Final = 6_371_008.8
XY = tuple[float, float]
AVENUE_M: Final = 60_000.0
OFF_ROUTE_M: Final = 400.0
SPEED_MPS: Final = 10.0


def latlon(x_m: float, y_m: float) -> tuple[float, float]:
    k = EARTH_RADIUS_M * math.pi / 180
    return ORIGIN[0] + y_m / k, ORIGIN[1] + x_m / (k * math.cos(math.radians(ORIGIN[0])))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def along(corners: Sequence[XY], distance_m: np.ndarray) -> np.ndarray:
    """Points at the given distances along a polyline."""
    xy = np.asarray(corners)
    legs = np.hypot(*np.diff(xy, axis=0).T)
    ends = np.concatenate(([0.0], np.cumsum(legs)))
    d = np.clip(distance_m, 0.0, ends[-1])
    leg = np.clip(np.searchsorted(ends, d, side="right") - 1, 0, len(legs) - 1)
    t = (d - ends[leg]) / legs[leg]
    return xy[leg] + (xy[leg + 1] - xy[leg]) * t[:, None]


def batch_body(xy: np.ndarray, times: Sequence[datetime], rng: np.random.Generator) -> bytes:
    noisy = xy + rng.normal(0, 5.0, xy.shape)
    pings = []
    for (x, y), moment in zip(noisy.tolist(), times, strict=True):
        lat, lon = latlon(x, y)
        pings.append({"lat": lat, "lon": lon, "recorded_at": _stamp(moment), "accuracy_m": 8.0})
    return json.dumps({"pings": pings}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class DayBatch:
    body: bytes
    delivered: list[tuple[int, datetime]]  # (stop index, when): post these after the batch


def serpentine(rows: int = 12, row_m: float = 10_000.0, gap_m: float = 200.0) -> list[XY]:
    """A city-wide route: east and west along avenues 200 m apart, a vertex every 200 m (as a
    router's polyline has)."""
    corners: list[XY] = []
    for row in range(rows):
        xs = np.arange(0.0, row_m + 1, 200.0)
        corners += [(float(x), row * gap_m) for x in (xs if row % 2 == 0 else xs[::-1])]
    return corners


def day_stops(path: Sequence[XY], count: int, spacing_m: float) -> list[XY]:
    points = along(path, np.arange(1, count + 1) * spacing_m)
    return [(float(x), float(y)) for x, y in points.tolist()]


def day_batches(
    path: Sequence[XY],
    spacing_m: float,
    dwell_s: int,
    start: datetime,
    batches: int,
    size: int,
    seed: int,
) -> list[DayBatch]:
    """1 Hz pings of a driver who drives the path at 10 m/s and serves a stop every
    `spacing_m` (parked `dwell_s` there); after each batch, the stops it finished."""
    rng = np.random.default_rng(seed)
    total = batches * size
    distance, served = np.empty(total), []
    d, second, stop = 0.0, 0, 1
    while second < total:
        if d >= stop * spacing_m:  # at the stop: park, then it is delivered
            distance[second : second + dwell_s] = d
            second += dwell_s
            served.append((stop - 1, min(second, total) - 1))
            stop += 1
            continue
        distance[second] = d
        d = min(d + SPEED_MPS, stop * spacing_m)
        second += 1
    xy = along(path, distance[:total])
    out = []
    for b in range(batches):
        chunk = slice(b * size, (b + 1) * size)
        times = [start + timedelta(seconds=s) for s in range(b * size, (b + 1) * size)]
        done = [
            (i, start + timedelta(seconds=s)) for i, s in served if b * size <= s < (b + 1) * size
        ]
        out.append(DayBatch(batch_body(xy[chunk], times, rng), done))
    return out


@dataclass(frozen=True, slots=True)
class DetourBatch:
    body: bytes
    first_at: datetime
    last_at: datetime


def detour_batches(
    start: datetime, cycles: int, size: int, seed: int
) -> tuple[list[DetourBatch], int]:
    """Cycles of 40 s on the avenue, 110 s 400 m north of it, 40 s back on it (1 Hz), in
    batches of `size` pings; returns the batches and the alerts they must cause."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for cycle in range(cycles):
        base = cycle * 190.0 * SPEED_MPS
        for second in range(190):
            xs.append(base + second * SPEED_MPS)
            ys.append(OFF_ROUTE_M if 40 <= second < 150 else 0.0)
    xy = np.column_stack((xs, ys))
    times = [start + timedelta(seconds=i) for i in range(len(xs))]
    batches = []
    for i in range(0, len(xs), size):
        chunk = slice(i, i + size)
        body = batch_body(xy[chunk], times[chunk], rng)
        batches.append(DetourBatch(body, times[i], times[min(i + size, len(xs)) - 1]))
    return batches, 2 * cycles


async def _post(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with session.post(path, json=body) as response:
        data = await response.json()
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {data}")
        return data


@dataclass(frozen=True, slots=True)
class Planned:
    token: str
    route_id: str
    shipment_ids: list[str]


async def planned_driver(
    session: aiohttp.ClientSession,
    name: str,
    stops_xy: Sequence[tuple[float, float]],
    path_xy: Sequence[tuple[float, float]],
) -> Planned:
    """A driver with a route over new shipments at `stops_xy` along `path_xy`."""
    driver = await _post(session, "/v1/drivers", {"name": name, "phone": "+15555550100"})
    shipment_ids = []
    for n, (x, y) in enumerate(stops_xy):
        lat, lon = latlon(x, y)
        shipment = await _post(
            session,
            "/v1/shipments",
            {
                "tracking_number": f"{name}-{n}",
                "carrier": "driver",
                "recipient": {"name": "Bench Customer"},
                "destination": {"address": f"{n} Bench St", "lat": lat, "lon": lon},
            },
        )
        shipment_ids.append(shipment["id"])
    path = [list(latlon(x, y)) for x, y in path_xy]
    route = {"driver_id": driver["id"], "stops": [{"shipment_id": s} for s in shipment_ids]}
    created = await _post(session, "/v1/routes", {**route, "path": path})
    return Planned(driver["token"], created["id"], shipment_ids)


def avenue() -> list[tuple[float, float]]:
    return [(0.0, 0.0), (AVENUE_M, 0.0)]
