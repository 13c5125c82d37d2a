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
    PURGE_POSITIONS = "purge_driver_positions"  # drivers: position history past retention (cron)
    CHECK_OVERDUE_STOPS = "check_overdue_stops"  # drivers: promises passing with no pings (cron)
    RECONCILE = "reconcile_due_work"  # cron: queue again the jobs Redis lost (gateway/recovery.py)
    PURGE_EXPIRED = "purge_expired"  # cron: raw payloads and relayed outbox rows past retention
    SEND_CHAT_SMS = "send_chat_sms"  # chat: relay one message to the other side by SMS


# Redis pub/sub: a shipment's status/ETA as it changes, for live viewers (`<prefix><shipment id>`).
LIVE_SHIPMENT_CHANNEL: Final = "lastmile:live:shipment:"
# Also `{"type": "revoked"}` there when the store revokes the shipment's links (streams end).
# The live hub's own channel (gateway/live/hub.py): nothing is published on it; subscribing to
# it opens the process's one pub/sub connection before any viewer arrives.
LIVE_HUB_CHANNEL: Final = "lastmile:live:hub"

# Drivers (gateway/drivers/live.py documents the payloads). The newest position of one driver:
# a hash {"ts": epoch ms, "json": position} at `<prefix><driver id>`.
DRIVER_POSITION_KEY: Final = "lastmile:driver:position:"
# Every driver of a store: a hash {driver id: position JSON} at `<prefix><tenant id>`.
FLEET_POSITIONS_KEY: Final = "lastmile:fleet:positions:"
# Pub/sub: each accepted batch's newest position, per driver and per store.
LIVE_DRIVER_CHANNEL: Final = "lastmile:live:driver:"
LIVE_FLEET_CHANNEL: Final = "lastmile:live:fleet:"
# Redis pub/sub: a carrier connection changed or was deleted (`<connection id> <carrier>`).
CARRIER_CONNECTION_CHANGES: Final = "lastmile:carrier-connections:changed"

# Redis pub/sub: a store's rarely changing configuration changed (`<cache name> <tenant id|*>`);
# every process drops its cached copy (gateway/platform/tenant_cache.py).
TENANT_CONFIG_CHANGES: Final = "lastmile:tenant-config:changed"

# Dispatcher console sessions (gateway/dispatch/sessions.py): `<prefix><sha256 of the cookie>`.
DISPATCH_SESSION_KEY: Final = "lastmile:dispatch:session:"
