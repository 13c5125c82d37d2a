"""How the board reads on the page: labels, times in the dispatcher's zone, initials, the
deliveries-per-hour chart's bars. The page's script mirrors these for live updates
(gateway/dispatch/static/dispatch.js); keep the two in step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from gateway.dispatch.model import Board, DriverCard, Figures, Position, StopCard
from gateway.dispatch.rules import short_address
from gateway.drivers.rules.geo import haversine_m

STATE_LABELS: Final = {
    "driving": "Driving",
    "at_stop": "At a stop",
    "off_route": "Off route",
    "waiting": "Not started",
    "finished": "Route done",
    "idle": "No route",
    "offline": "No signal",
}
STOP_LABELS: Final = {
    "planned": "Planned",
    "active": "Next",
    "arrived": "Arrived",
    "done": "Delivered",
    "failed": "Failed attempt",
}
CHART_HOURS: Final = range(6, 23)  # the working day the chart shows (other hours still count)
CHART_HEIGHT: Final = 56
BAR_WIDTH: Final = 10
BAR_GAP: Final = 4


@dataclass(frozen=True, slots=True)
class Bar:
    hour: int
    count: int
    x: int
    y: int
    height: int


def distance_text(position: Position, stop: StopCard) -> str:
    """How far the driver is from the stop, as the crow flies: `350 m`, `1.2 km`."""
    metres = haversine_m(position.lat, position.lon, stop.lat, stop.lon)
    return f"{round(metres, -1):.0f} m" if metres < 950 else f"{metres / 1000:.1f} km"


def initials(name: str) -> str:
    parts = [p for p in name.split() if p[:1].isalpha()]
    letters = (parts[0][:1] + parts[-1][:1]) if len(parts) > 1 else name[:2]
    return letters.upper() or "?"


@dataclass(frozen=True, slots=True)
class View:
    """Formatting helpers bound to one board's time zone, for the template."""

    board: Board

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.board.timezone)

    def clock(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%H:%M") if moment else "—"

    def state_label(self, driver: DriverCard) -> str:
        return STATE_LABELS[driver.state.value]

    def stop_label(self, stop: StopCard) -> str:
        return STOP_LABELS.get(stop.state, stop.state)

    def next_line(self, driver: DriverCard) -> str:
        route = driver.route
        if route is None:
            return "No route today"
        stop = route.next_stop
        if stop is None:
            return "Route complete"
        where = short_address(stop.address) or stop.tracking_number
        away = f" · {distance_text(driver.position, stop)}" if driver.position else ""
        eta = f" · ETA {self.clock(stop.eta)}" if stop.eta else ""
        return f"Next: {where}{away}{eta}"

    def seen_line(self, driver: DriverCard) -> str:
        position = driver.position
        if position is None:
            return "No position yet"
        speed = ""
        if position.speed_mps is not None and position.speed_mps >= 0.5:
            speed = f" · {round(position.speed_mps * 3.6)} km/h"
        return f"Seen {self.clock(position.recorded_at)}{speed}"

    @staticmethod
    def percent(figures: Figures) -> str:
        rate = figures.on_time_rate
        return "—" if rate is None else f"{round(rate * 100)}%"

    @staticmethod
    def rating(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}"

    @staticmethod
    def bars(figures: Figures) -> list[Bar]:
        top = max([figures.per_hour[h] for h in CHART_HOURS] + [1])
        bars = []
        for index, hour in enumerate(CHART_HOURS):
            count = figures.per_hour[hour]
            height = round(CHART_HEIGHT * count / top) if count else 2
            x = index * (BAR_WIDTH + BAR_GAP)
            bars.append(Bar(hour, count, x, CHART_HEIGHT - height, height))
        return bars

    @staticmethod
    def chart_width() -> int:
        return len(CHART_HOURS) * (BAR_WIDTH + BAR_GAP) - BAR_GAP
