"""Where the reconciler looks for owed work whose job Redis may have lost: one line per area.

The reconciler itself is gateway/platform/reconcile.py; it runs as a cron job on every worker
(below) and in every outbox relay at start-up and after an outage (gateway/app.py, worker.py).
"""

from __future__ import annotations

from typing import Final

from gateway.chat.jobs import due_jobs as chat_relays_due
from gateway.notifications.jobs import due_jobs as notifications_due
from gateway.platform.job_context import JobContext
from gateway.platform.reconcile import Finder, reconcile
from gateway.shipments.jobs import due_jobs as shipment_changes_due
from gateway.store_webhooks.maintenance import due_jobs as webhook_messages_due

FINDERS: Final[tuple[Finder, ...]] = (
    shipment_changes_due,  # shipments: changes not fanned out yet
    notifications_due,  # notifications: due to be sent, or their send lost its worker
    webhook_messages_due,  # store webhooks: lane heads due for an attempt
    chat_relays_due,  # chat: a message's SMS to the other side, owed or lost with its worker
)
EVERY_S: Final = 15  # the cron's period: lost work is queued again within GRACE + this


async def reconcile_due_work(ctx: JobContext) -> dict[str, int]:
    """Cron job: queue again every owed job that Redis no longer holds (idempotent)."""
    return await reconcile(ctx["db"], ctx["redis"], FINDERS)
