"""arq worker settings: the job registry, cron jobs and the resources jobs share."""

from __future__ import annotations

from typing import Any, Final

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker

from gateway.chat.jobs import SEND_CHAT_SMS
from gateway.drivers.jobs import check_overdue_stops, purge_driver_positions
from gateway.notifications.jobs import SEND_NOTIFICATION
from gateway.notifications.worker_hooks import start_notifications, stop_notifications
from gateway.platform.db import create_engine
from gateway.platform.names import Job
from gateway.platform.relay import OutboxRelay
from gateway.platform.settings import Settings
from gateway.platform.vault import install_keys
from gateway.shipments.jobs import purge_expired, shipment_changed
from gateway.store_webhooks.alerts import ALERT_FUNCTION
from gateway.store_webhooks.jobs import DELIVER_FUNCTION
from gateway.store_webhooks.worker_hooks import start_webhooks, stop_webhooks

# Every job the gateway enqueues, by name: one line per job.
FUNCTIONS: Final[tuple[Any, ...]] = (
    shipment_changed,
    DELIVER_FUNCTION,  # store webhooks
    ALERT_FUNCTION,  # store webhooks: "we disabled your endpoint" email
    SEND_NOTIFICATION,  # customer notifications (SMS, email, push)
    SEND_CHAT_SMS,  # chat: a message relayed to the other side by SMS
)


# Periodic jobs: retention purges at night; overdue driver stops every minute (a polling job:
# a burst worker, which only drains the queue, leaves it out).
NIGHTLY_JOBS: Final = [
    cron(purge_expired, hour={3}, minute={17}, run_at_startup=False),  # type: ignore[arg-type]
    cron(
        purge_driver_positions,  # type: ignore[arg-type]
        name=Job.PURGE_POSITIONS,
        hour={3},
        minute={27},
        run_at_startup=False,
    ),
]
MINUTE_JOBS: Final = [
    cron(
        check_overdue_stops,  # type: ignore[arg-type]
        name=Job.CHECK_OVERDUE_STOPS,
        second={5},
        run_at_startup=False,
        unique=True,
    ),
]


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    if "db" not in ctx:  # tests hand in their own engine
        ctx["db"] = create_engine(settings.database_url)
        ctx["owns_db"] = True
    await start_webhooks(ctx)  # store webhooks: the shared HTTP session, maintenance loop
    await start_notifications(ctx)  # channels (LASTMILE_CHANNELS) unless tests handed some in
    if ctx.get("run_relay", True):
        # Workers relay too, so outbox rows move even when no `serve` process is up.
        relay = OutboxRelay(ctx["db"], ctx["redis"], poll_s=settings.outbox_poll_s)
        relay.start()
        ctx["relay"] = relay


async def shutdown(ctx: dict[str, Any]) -> None:
    await stop_webhooks(ctx)
    await stop_notifications(ctx)
    relay: OutboxRelay | None = ctx.pop("relay", None)
    if relay is not None:
        await relay.stop()
    if ctx.pop("owns_db", False):
        await ctx.pop("db").dispose()


def build_worker(settings: Settings, redis_url: str, **overrides: Any) -> Worker:
    """A Worker wired to `settings`; tests pass burst=True, handle_signals=False, ctx=..."""
    ctx = overrides.pop("ctx", {})
    if settings.secret_key is not None:  # secrets at rest (gateway/platform/vault.py)
        install_keys(settings.secret_key.get_secret_value())
    options: dict[str, Any] = {
        "functions": FUNCTIONS,
        "cron_jobs": NIGHTLY_JOBS if overrides.get("burst") else NIGHTLY_JOBS + MINUTE_JOBS,
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings, **ctx},
        "max_jobs": 50,
        # On SIGTERM/SIGINT, running jobs get this long to finish before arq cancels them.
        "job_completion_wait": 20,
        "poll_delay": 0.05,  # arq's default 0.5 s would dominate event-to-notification latency
        "keep_result": 3600,
        "max_tries": 6,
    }
    options.update(overrides)
    return Worker(**options)
