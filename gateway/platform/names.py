"""Every arq job name and Redis key prefix the gateway uses, in one place.

A job's id is always derived from what caused it (`<job>:<cause id>`), so enqueueing the same work
twice is a no-op in arq and in the outbox.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Job(StrEnum):
    SHIPMENT_CHANGED = "shipment_changed"  # shipments: fan a status/ETA change out
    SEND_NOTIFICATION = "send_notification"  # notifications: one message, one channel
    DELIVER_WEBHOOK = "deliver_webhook"  # store webhooks: one signed message
    SEND_STORE_ALERT = "send_store_alert"  # store webhooks: "we disabled your endpoint" email
    SEND_CHAT_SMS = "send_chat_sms"  # chat: relay one message to the other side by SMS


# Redis pub/sub: a shipment's status/ETA as it changes, for live viewers (`<prefix><shipment id>`).
LIVE_SHIPMENT_CHANNEL: Final = "lastmile:live:shipment:"
