"""The limits a store's template renders under, and the budget one render spends against them.

gateway/notifications/sandbox.py enforces them; this module only says what they are.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Limits:
    range_items: int = 1_000
    sequence_items: int = 1_000
    string_chars: int = 50_000
    integer_argument: int = 10_000  # widths, counts, lengths passed to filters and methods
    number_bits: int = 1_024
    loop_iterations: int = 10_000
    output_chars: int = 1_000_000  # everything produced, kept or not
    render_s: float = 0.5


LIMITS: Final = Limits()


class TemplateLimitExceeded(Exception):
    """The template went past `limit`; the message is safe to show to the store."""

    def __init__(self, limit: str, allowed: float) -> None:
        shown = f"{allowed:,}" if isinstance(allowed, int) else f"{allowed:g}"
        super().__init__(f"exceeds the {limit} limit ({shown})")
        self.limit = limit


STR_METHODS: Final = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
# Filters that turn their value into text: the value must be a scalar.
TEXT_FILTERS: Final = frozenset(
    {
        "abs",
        "capitalize",
        "center",
        "e",
        "escape",
        "filesizeformat",
        "float",
        "forceescape",
        "format",
        "indent",
        "int",
        "lower",
        "replace",
        "round",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "wordcount",
        "wordwrap",
    }
)
SEQUENCE_FILTERS: Final = frozenset(
    {
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "groupby",
        "items",
        "join",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "reverse",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    }
)
SCALARS: Final = (str, int, float, bool, type(None))
PERCENT_SPEC: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
YIELD_EVERY: Final = 32  # steps (each well under a millisecond) between GIL hand-overs


class Budget:
    """What one render has spent."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.render_s
        self.iterations = 0
        self.produced = 0
        self._ticks = 0

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % YIELD_EVERY == 0:
            time.sleep(0)  # hand the GIL over: the event loop waits for no switch interval
        if time.monotonic() > self.deadline:
            raise TemplateLimitExceeded("render_time_s", self.limits.render_s)

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.loop_iterations:
            raise TemplateLimitExceeded("loop_iterations", self.limits.loop_iterations)
        self.tick()

    def produce(self, chars: int) -> None:
        self.produced += chars
        if self.produced > self.limits.output_chars:
            raise TemplateLimitExceeded("output_chars", self.limits.output_chars)
        self.tick()
