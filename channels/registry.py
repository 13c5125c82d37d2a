"""The channels a process sends with, from LASTMILE_CHANNELS: one line per provider."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from channels.base import KINDS, Channel
from channels.console import ConsoleChannel
from channels.fcm_push import FCMPush
from channels.sendgrid_email import SendGridEmail
from channels.twilio_sms import TwilioSMS
from gateway.platform.settings import Settings

log = logging.getLogger(__name__)

# LASTMILE_CHANNELS name → factory; each factory raises ChannelConfigError naming a missing
# variable. The channel's `kind` says which messages it takes.
PROVIDERS: Final[Mapping[str, Callable[[Settings], Channel]]] = {
    "twilio": TwilioSMS.from_settings,  # sms
    "sendgrid": SendGridEmail.from_settings,  # email
    "fcm": FCMPush.from_settings,  # push
}


def build_channels(
    settings: Settings, *, console: ConsoleChannel | None = None
) -> dict[str, Channel]:
    """One channel per kind ("sms", "email", "push"); `console` (or a new one) fills the rest.

    Raises ChannelConfigError (a SettingsError) naming the first missing or bad variable.
    """
    channels: dict[str, Channel] = {}
    for provider in settings.channels:
        if provider == "console":
            continue  # console only fills what no provider took
        channel = PROVIDERS[provider](settings)
        channels[channel.kind] = channel
    fallback = console if console is not None else ConsoleChannel()
    for kind in KINDS:
        channels.setdefault(kind, fallback)
    log.info("channels: %s", ", ".join(f"{kind}={channels[kind].name}" for kind in KINDS))
    return channels


async def close_channels(channels: Iterable[Channel] | Mapping[str, Channel]) -> None:
    """Close each distinct channel once (console serves several kinds)."""
    values = channels.values() if isinstance(channels, Mapping) else channels
    seen: set[int] = set()
    for channel in values:
        if id(channel) not in seen:
            seen.add(id(channel))
            await channel.close()
