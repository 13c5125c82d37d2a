"""What a fault did: accepted webhooks, stored events, sent messages, duplicates.

`settled` waits until the database owes nothing (every change fanned out, every notification
final, every store webhook message delivered). `Ledger.take` then reads the database, the fake
Twilio and the store's receiver, and `check` holds the promises: each accepted event stored once,
each notification sent at most once (exactly once unless its outcome is unknown: then the
provider has it once), each store webhook message received at least once under its own id.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.notifications.tables import notifications
from gateway.platform.tables import outbox
from gateway.shipments.tables import events, shipment_changes
from gateway.store_webhooks.tables import webhook_messages
from tests.fakes.fake_twilio import FakeTwilio
from tests.faults.harness import Carrier, Hooks

_OWED = {
    "unrelayed": sa.select(sa.func.count())
    .select_from(outbox)
    .where(outbox.c.enqueued_at.is_(None)),
    "changes": sa.select(sa.func.count())
    .select_from(shipment_changes)
    .where(shipment_changes.c.processed_at.is_(None)),
    "notifications": sa.select(sa.func.count())
    .select_from(notifications)
    .where(notifications.c.status.in_(["queued", "sending"])),
    "webhooks": sa.select(sa.func.count())
    .select_from(webhook_messages)
    .where(webhook_messages.c.status == "pending"),
}


async def owed(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {name: int((await conn.execute(q)).scalar_one()) for name, q in _OWED.items()}


async def settled(engine: AsyncEngine, within_s: float, *, alive: Any = None) -> float:
    """Seconds until nothing is owed; fails with what is still owed after `within_s`."""
    started = time.monotonic()
    while True:
        try:
            left = await owed(engine)
        except Exception as exc:  # the database may be restarting
            left = {"database": repr(exc)}  # type: ignore[dict-item]
        if not any(left.values()):
            return time.monotonic() - started
        if alive is not None:
            alive()
        assert time.monotonic() - started < within_s, f"still owed after {within_s}s: {left}"
        await asyncio.sleep(0.25)


def _notification_id(callback: str | None) -> str:
    return parse_qs(urlsplit(callback or "").query).get("n", ["?"])[0]


@dataclass(frozen=True)
class Ledger:
    fault: str
    accepted: int  # 202 answers to carrier pushes
    pushes: int  # distinct pushes (one event each)
    events: int  # events stored
    statuses: dict[str, int]  # notifications by final status/reason
    sms_sent: int  # requests the fake Twilio took
    sms_duplicates: int  # requests beyond the first for one notification
    unknown_at_provider: int  # outcome_unknown notifications the provider did take
    webhook_messages: int
    webhooks_delivered: int  # distinct webhook-ids the store received
    webhook_redeliveries: int  # deliveries beyond the first per webhook-id (allowed)
    answers: dict[int, int]  # carrier pushes' HTTP answers

    @classmethod
    async def take(
        cls,
        fault: str,
        engine: AsyncEngine,
        carrier: Carrier,
        pushes: int,
        twilio: FakeTwilio,
        hooks: Hooks,
    ) -> Ledger:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(notifications.c.id, notifications.c.status, notifications.c.reason)
                )
            ).all()
            stored = int(
                (await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar_one()
            )
            message_ids = set((await conn.execute(sa.select(webhook_messages.c.id))).scalars())
        per_note = Counter(_notification_id(r.status_callback) for r in twilio.requests)
        unknown = {r.id for r in rows if r.reason == "outcome_unknown"}
        received = hooks.ids()
        return cls(
            fault=fault,
            accepted=carrier.statuses[202],
            pushes=pushes,
            events=stored,
            statuses=dict(
                Counter(f"{r.status}/{r.reason}" if r.reason else r.status for r in rows)
            ),
            sms_sent=len(twilio.requests),
            sms_duplicates=sum(n - 1 for n in per_note.values()),
            unknown_at_provider=sum(1 for nid in unknown if per_note[nid]),
            webhook_messages=len(message_ids),
            webhooks_delivered=len(message_ids & set(received)),
            webhook_redeliveries=sum(n - 1 for n in received.values()),
            answers=dict(carrier.statuses),
        )

    def check(self, *, unknown: int = 0) -> None:
        """The promises; `unknown`: notifications expected to end `outcome_unknown`."""
        assert self.events == self.pushes, self  # every accepted event stored, once
        assert 500 not in self.answers, self  # an outage is a 503, never a 500
        assert self.sms_duplicates == 0, self  # nobody texted twice
        sent = self.statuses.get("sent", 0)
        assert self.statuses.get("failed/outcome_unknown", 0) == unknown, self
        assert sent + unknown == self.pushes, self  # every due notification: sent or in doubt
        assert self.sms_sent == sent + self.unknown_at_provider, self
        assert self.webhooks_delivered == self.webhook_messages == self.pushes, self

    def row(self) -> str:
        return (
            f"| {self.fault} | {self.accepted} | {self.events} | {self.sms_sent} "
            f"| {self.sms_duplicates} SMS, {self.webhook_redeliveries} webhook re-deliveries "
            f"| {self.statuses} |"
        )
