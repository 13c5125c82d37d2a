"""`lastmile demo`: console channels that also print each message, so the demo shows them."""

from __future__ import annotations

from typing import Any

import click

from channels.base import OutboundEmail, OutboundPush, OutboundSMS
from channels.console import ConsoleChannel, ConsoleMessage
from channels.registry import build_channels
from gateway.domain.privacy import mask_email, mask_phone
from gateway.platform.settings import Settings


async def echo(entry: ConsoleMessage) -> None:
    """One line per message; the demo's recipient is made up, and is masked all the same."""
    message = entry.message
    if isinstance(message, OutboundSMS):
        click.echo(f"  [sms to {mask_phone(message.to)}] {message.body}")
    elif isinstance(message, OutboundEmail):
        click.echo(f"  [email to {mask_email(message.to)}] {message.subject}")
    elif isinstance(message, OutboundPush):
        click.echo(f"  [push] {message.title}: {message.body}")


def demo_worker_ctx(settings: Settings) -> dict[str, Any]:
    """Worker ctx entries: the configured channels, with a printing console for the rest."""
    channels = build_channels(settings, console=ConsoleChannel(sink=echo))
    return {"channels": channels, "owns_channels": True}
