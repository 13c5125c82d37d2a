"""Worker start-up and shut-down for notifications: the channels every send job uses."""

from __future__ import annotations

from typing import Any

from channels.registry import build_channels, close_channels


async def start_notifications(ctx: dict[str, Any]) -> None:
    """One channel per kind from LASTMILE_CHANNELS, unless a test handed its own in."""
    if "channels" not in ctx:
        ctx["channels"] = build_channels(ctx["settings"])
        ctx["owns_channels"] = True


async def stop_notifications(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_channels", False):
        await close_channels(ctx.pop("channels"))
