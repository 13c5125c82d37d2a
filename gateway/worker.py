"""arq worker settings: the job registry, cron jobs and the resources jobs share.

Job timeouts: each job declares its own, and none may exceed MAX_JOB_TIMEOUT_S. arq keeps a
running job's in-progress marker for the largest timeout + 10 s; a worker killed mid-job leaves
that marker behind, and its jobs run again (on another worker, or this one restarted) once it
expires: within a minute.
"""

from __future__ import annotations

from typing import Any, Final

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Function, Worker

from gateway.chat.jobs import SEND_CHAT_SMS
from gateway.drivers.jobs import check_overdue_stops, purge_driver_positions
from gateway.notifications.jobs import SEND_NOTIFICATION
from gateway.notifications.worker_hooks import start_notifications, stop_notifications
from gateway.platform.db import create_engine
from gateway.platform.names import Job
from gateway.platform.relay import OutboxRelay
from gateway.platform.resilient_worker import ResilientWorker, retry_on_outage
from gateway.platform.settings import Settings
from gateway.platform.tenant_cache import ConfigListener
from gateway.platform.vault import install_keys
from gateway.recovery import EVERY_S, FINDERS, reconcile_due_work
from gateway.shipments.jobs import SHIPMENT_CHANGED, purge_expired
from gateway.store_webhooks.alerts import ALERT_FUNCTION
from gateway.store_webhooks.jobs import DELIVER_FUNCTION
from gateway.store_webhooks.worker_hooks import start_webhooks, stop_webhooks

MAX_JOB_TIMEOUT_S: Final = 40.0  # so a killed worker's jobs run again within 50 s

# Every job the gateway enqueues, by name: one line per job.
FUNCTIONS: Final[tuple[Function, ...]] = tuple(
    retry_on_outage(function)  # the database or Redis away: the job comes back later
    for function in (
        SHIPMENT_CHANGED,  # shipments: fan a change out
        DELIVER_FUNCTION,  # store webhooks
        ALERT_FUNCTION,  # store webhooks: "we disabled your endpoint" email
        SEND_NOTIFICATION,  # customer notifications (SMS, email, push)
        SEND_CHAT_SMS,  # chat: a message relayed to the other side by SMS
    )
)
CRON_JOBS: Final = (
    # A cron job's id is unique per tick: with N workers, one of them runs each tick.
    cron(
        reconcile_due_work,  # type: ignore[arg-type]  # a typed ctx instead of arq's dict
        name=f"cron:{Job.RECONCILE}",
        second=set(range(0, 60, EVERY_S)),
        run_at_startup=True,
        timeout=30,
    ),
    cron(
        purge_expired,  # type: ignore[arg-type]
        name=f"cron:{Job.PURGE_EXPIRED}",
        hour={3},
        minute={17},
        timeout=MAX_JOB_TIMEOUT_S,
    ),
    cron(
        purge_driver_positions,  # type: ignore[arg-type]
        name=f"cron:{Job.PURGE_POSITIONS}",
        hour={3},
        minute={27},
        timeout=MAX_JOB_TIMEOUT_S,
    ),
    cron(
        check_overdue_stops,  # type: ignore[arg-type]  # promises passing with no pings
        name=f"cron:{Job.CHECK_OVERDUE_STOPS}",
        second={5},
        timeout=30,
    ),
)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    if "db" not in ctx:  # tests hand in their own engine
        ctx["db"] = create_engine(settings.database_url)
        ctx["owns_db"] = True
    await start_webhooks(ctx)  # store webhooks: the shared HTTP session, maintenance loop
    await start_notifications(ctx)  # channels (LASTMILE_CHANNELS) unless tests handed some in
    if ctx.get("run_relay", True) and "relay" not in ctx:  # startup runs again on reconnect
        # Workers relay too, so outbox rows move even when no `serve` process is up.
        relay = OutboxRelay(ctx["db"], ctx["redis"], poll_s=settings.outbox_poll_s, finders=FINDERS)
        relay.start()
        ctx["relay"] = relay
    if "config_changes" not in ctx:  # cached rules and endpoints: changes from every process
        listener = ConfigListener(ctx["redis"])
        listener.start()
        ctx["config_changes"] = listener


async def shutdown(ctx: dict[str, Any]) -> None:
    await stop_webhooks(ctx)
    await stop_notifications(ctx)
    listener: ConfigListener | None = ctx.pop("config_changes", None)
    if listener is not None:
        await listener.stop()
    relay: OutboxRelay | None = ctx.pop("relay", None)
    if relay is not None:
        await relay.stop()
    if ctx.pop("owns_db", False):
        await ctx.pop("db").dispose()


def build_worker(settings: Settings, redis_url: str, **overrides: Any) -> Worker:
    """A Worker wired to `settings`; tests pass burst=True, handle_signals=False, ctx=...

    A burst worker (tests, one-off drains) runs no cron jobs: they would count as its jobs.
    """
    ctx = overrides.pop("ctx", {})
    if settings.secret_key is not None:  # secrets at rest (gateway/platform/vault.py)
        install_keys(settings.secret_key.get_secret_value())
    options: dict[str, Any] = {
        "functions": FUNCTIONS,
        "cron_jobs": [] if overrides.get("burst") else list(CRON_JOBS),
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        # send_inline: the lean event path (gateway/shipments/jobs.py); tests calling jobs
        # directly leave it out and drive each step themselves.
        "ctx": {"settings": settings, "send_inline": True, **ctx},
        "max_jobs": 50,
        # On SIGTERM/SIGINT, running jobs get this long to finish before arq cancels them.
        "job_completion_wait": 20,
        # arq's default 0.5 s would dominate event-to-notification latency; an idle poll is
        # one cheap Redis round trip, so 10 ms costs little and keeps the latency floor low.
        "poll_delay": 0.01,
        "keep_result": 3600,
        "max_tries": 6,
        "job_timeout": MAX_JOB_TIMEOUT_S,  # for any job that does not set its own
    }
    options.update(overrides)
    worker = ResilientWorker(**options)
    longest = max(f.timeout_s or worker.job_timeout_s for f in worker.functions.values())
    if longest is None or longest > MAX_JOB_TIMEOUT_S:
        raise RuntimeError(f"a job timeout of {longest}s would delay re-runs after a crash")
    return worker
