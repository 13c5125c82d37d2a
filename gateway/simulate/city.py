"""The simulated city: a street grid laid on Chicago's (blocks of 1/8 mile, streets named as on
the map west and north of the Loop), positions in metres east and north of State & Madison.

Drivers follow the grid: a leg runs along its street to the nearest corner, along the avenue,
and along the destination's street, as a routing engine would send a van.
"""

from __future__ import annotations

import math
from typing import Final

ORIGIN: Final = (41.88204, -87.62775)  # State & Madison: Chicago's address zero point
BLOCK_M: Final = 201.17  # 1/8 mile
EARTH_RADIUS_M: Final = 6_371_008.8

# Streets running east-west, by blocks north of Madison (negative: south).
EAST_WEST: Final = {
    -8: "Roosevelt Rd", -7: "Taylor St", -6: "Polk St", -5: "Harrison St", -4: "Van Buren St",
    -3: "Jackson Blvd", -2: "Adams St", -1: "Monroe St", 0: "Madison St", 1: "Washington Blvd",
    2: "Randolph St", 3: "Lake St", 4: "Fulton Market", 5: "Carroll Ave", 6: "Kinzie St",
    7: "Hubbard St", 8: "Grand Ave", 9: "Ohio St", 10: "Ontario St", 11: "Erie St",
    12: "Huron St", 13: "Superior St", 14: "Chicago Ave",
}  # fmt: skip
# Streets running north-south, by blocks west of State (positive numbers here: x = -blocks).
NORTH_SOUTH: Final = (
    "State St", "Dearborn St", "Clark St", "LaSalle St", "Wells St", "Franklin St", "Canal St",
    "Clinton St", "Jefferson St", "Des Plaines St", "Halsted St", "Green St", "Peoria St",
    "Sangamon St", "Morgan St", "Carpenter St", "Aberdeen St", "May St", "Racine Ave",
    "Throop St", "Loomis St", "Laflin St", "Ashland Ave", "Paulina St", "Wood St", "Wolcott Ave",
    "Damen Ave", "Hoyne Ave", "Leavitt St", "Oakley Blvd", "Western Ave",
)  # fmt: skip

XY = tuple[float, float]  # metres east, north of ORIGIN


def blocks(x_blocks: float, y_blocks: float) -> XY:
    return x_blocks * BLOCK_M, y_blocks * BLOCK_M


def latlon(point: XY) -> tuple[float, float]:
    """[lat, lon] of a point on the local plane (exact enough across a few kilometres)."""
    lat0, lon0 = ORIGIN
    k = EARTH_RADIUS_M * math.pi / 180
    return lat0 + point[1] / k, lon0 + point[0] / (k * math.cos(math.radians(lat0)))


def offset(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """[lat, lon] moved by metres (GPS noise is drawn in metres)."""
    k = EARTH_RADIUS_M * math.pi / 180
    lat, lon = point
    return lat + north_m / k, lon + east_m / (k * math.cos(math.radians(lat)))


def address(point: XY) -> str:
    """A Chicago-style address: `1150 W Lake St` for a point on an east-west street."""
    x_b, y_b = point[0] / BLOCK_M, point[1] / BLOCK_M
    street = EAST_WEST.get(round(y_b))
    if street is not None and abs(y_b - round(y_b)) < 0.05:
        number = round(abs(x_b) * 100)
        number += number % 2  # even numbers on the north side
        side = "W" if x_b < 0 else "E"
        return f"{number} {side} {street}"
    avenue = NORTH_SOUTH[min(round(-x_b), len(NORTH_SOUTH) - 1)] if x_b <= 0 else "State St"
    number = round(abs(y_b) * 100) | 1
    side = "N" if y_b >= 0 else "S"
    return f"{number} {side} {avenue}"


def grid_leg(start: XY, end: XY) -> list[XY]:
    """Corners from `start` to `end` along the grid (both on east-west streets or corners)."""
    (x0, y0), (x1, y1) = start, end
    if abs(y0 - y1) < 1.0:
        return [start, end]
    bx0 = x0 / BLOCK_M
    corner_b = math.ceil(bx0 - 1e-9) if x1 >= x0 else math.floor(bx0 + 1e-9)
    corner_x = corner_b * BLOCK_M
    points = [start, (corner_x, y0), (corner_x, y1), end]
    return _dedupe(points)


def _dedupe(points: list[XY]) -> list[XY]:
    kept = [points[0]]
    for point in points[1:]:
        if math.dist(point, kept[-1]) > 0.5:
            kept.append(point)
    return kept


def join(*legs: list[XY]) -> list[XY]:
    """Legs end to end, each leg starting where the last ended."""
    points: list[XY] = []
    for leg in legs:
        points.extend(leg if not points else leg[1:])
    return _dedupe(points)
