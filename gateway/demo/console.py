"""What the demo prints: one readable line per thing a person watching cares about.

Carrier webhook accepted, SMS / email / push "sent" by the console channels (with their text),
store webhook delivered. Everything else goes to the log file (`--verbose`: the terminal too).
"""

from __future__ import annotations

from typing import Any

import click

from channels.base import OutboundEmail, OutboundPush, OutboundSMS
from channels.console import ConsoleChannel, ConsoleMessage
from channels.registry import build_channels
from gateway.domain.privacy import mask_email, mask_phone
from gateway.platform.settings import Settings


def say(line: str = "") -> None:
    click.echo(line)


async def echo(entry: ConsoleMessage) -> None:
    """One line per message; the demo's recipient is made up, and is masked all the same."""
    message = entry.message
    if isinstance(message, OutboundSMS):
        say(f"  ✉ SMS to {mask_phone(message.to)}: {message.body}")
    elif isinstance(message, OutboundEmail):
        say(f"  ✉ email to {mask_email(message.to)}: {message.subject}")
    elif isinstance(message, OutboundPush):
        say(f"  ✉ push: {message.title}: {message.body}")


def demo_worker_ctx(settings: Settings) -> dict[str, Any]:
    """Worker ctx entries: the configured channels, with a printing console for the rest."""
    channels = build_channels(settings, console=ConsoleChannel(sink=echo))
    return {"channels": channels, "owns_channels": True}
