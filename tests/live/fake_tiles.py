"""Map tiles for the browser tests: SVG city blocks drawn from the tile's world position.

Roads follow one grid in world pixels, so they continue across tile edges; a hash of each block
makes some of them parks or water. Good enough to judge the map's look in a screenshot, and no
network: real tile servers are unreachable from the test machine.
"""

from __future__ import annotations

import hashlib
from typing import Final

TILE_PX: Final = 256
BLOCK_PX: Final = 56  # a city block; every fifth road is a main road
_COLORS: Final = {
    "land": "#f2efe9",
    "building": "#e3ddd3",
    "park": "#d3ecc4",
    "water": "#aad3df",
    "casing": "#d9d3c9",
    "road": "#ffffff",
    "main": "#fcd6a4",
    "main_casing": "#e6b877",
}


def _kind(bx: int, by: int) -> str:
    roll = hashlib.blake2s(f"{bx},{by}".encode(), digest_size=2).digest()[0]
    return "water" if roll < 6 else "park" if roll < 30 else "building"


def _blocks(x0: int, y0: int) -> list[str]:
    shapes = []
    first_bx, first_by = x0 // BLOCK_PX, y0 // BLOCK_PX
    for bx in range(first_bx, first_bx + TILE_PX // BLOCK_PX + 2):
        for by in range(first_by, first_by + TILE_PX // BLOCK_PX + 2):
            kind = _kind(bx, by)
            inset = 0 if kind == "water" else 6
            left, top = bx * BLOCK_PX - x0 + inset, by * BLOCK_PX - y0 + inset
            size = BLOCK_PX - 2 * inset
            shapes.append(
                f'<rect x="{left}" y="{top}" width="{size}" height="{size}" rx="2" '
                f'fill="{_COLORS[kind]}"/>'
            )
    return shapes


def _roads(x0: int, y0: int) -> list[str]:
    lines = []
    for main in (False, True):
        for axis in ("x", "y"):
            start = (x0 if axis == "x" else y0) // BLOCK_PX
            for n in range(start, start + TILE_PX // BLOCK_PX + 2):
                if main != (n % 5 == 0):
                    continue
                at = n * BLOCK_PX - (x0 if axis == "x" else y0)
                ends = (
                    f'x1="{at}" y1="0" x2="{at}" y2="{TILE_PX}"'
                    if axis == "x"
                    else (f'x1="0" y1="{at}" x2="{TILE_PX}" y2="{at}"')
                )
                casing, fill, width = ("main_casing", "main", 9) if main else ("casing", "road", 6)
                for color, px in ((_COLORS[casing], width + 2), (_COLORS[fill], width)):
                    lines.append(f'<line {ends} stroke="{color}" stroke-width="{px}"/>')
    return lines


def svg_tile(x: int, y: int) -> str:
    """The SVG of tile (x, y) at any zoom (the same city at every scale)."""
    x0, y0 = x * TILE_PX, y * TILE_PX
    body = "".join(_blocks(x0, y0) + _roads(x0, y0))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{TILE_PX}" height="{TILE_PX}" '
        f'viewBox="0 0 {TILE_PX} {TILE_PX}"><rect width="100%" height="100%" '
        f'fill="{_COLORS["land"]}"/>{body}</svg>'
    )
