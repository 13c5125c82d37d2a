"""What the send job and the planner read, each in as few statements as possible.

At hundreds of notifications a second the worker's time goes into statements, not templates:
everything the send job decides on (the row, its shipment and store, the store's settings,
fresher news, an opt-out) comes back from one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import Location
from gateway.notifications.rules import (
    LIVE_STATUSES,
    ChannelKind,
    NotificationStatus,
    RecentSend,
    Recipient,
    address_hash,
)
from gateway.notifications.settings import NotificationSettings
from gateway.notifications.store import Notification, notification_of
from gateway.notifications.tables import (
    notification_settings,
    notification_templates,
    notifications,
    sms_optouts,
)
from gateway.shipments.tables import events, shipments
from gateway.tenants.tables import tenants

N = notifications.c


@dataclass(frozen=True, slots=True)
class SendView:
    row: Notification
    store_name: str
    tracking_number: str
    carrier: str
    recipient: Recipient
    settings: NotificationSettings
    superseded: bool  # fresher news for this shipment and channel is queued or out
    opted_out: bool  # an SMS to a number that said STOP to this store
    has_overrides: bool  # the store has template overrides at all


def _settings(config: dict[str, Any] | None) -> NotificationSettings:
    return NotificationSettings() if config is None else NotificationSettings.model_validate(config)


def _send_query() -> sa.Select[Any]:
    newer = notifications.alias("newer")
    superseded = sa.exists().where(
        newer.c.shipment_id == N.shipment_id,
        newer.c.channel == N.channel,
        newer.c.cause_at > N.cause_at,
        newer.c.status.in_([s.value for s in LIVE_STATUSES]),
    )
    opted_out = sa.exists().where(
        sms_optouts.c.tenant_id == N.tenant_id, sms_optouts.c.phone_hash == N.address_hash
    )
    overrides = sa.exists().where(notification_templates.c.tenant_id == N.tenant_id)
    return (
        sa.select(
            notifications,
            shipments.c.tracking_number.label("s_tracking_number"),
            shipments.c.carrier.label("s_carrier"),
            shipments.c.recipient.label("s_recipient"),
            tenants.c.name.label("s_store_name"),
            notification_settings.c.config.label("s_settings"),
            superseded.label("s_superseded"),
            opted_out.label("s_opted_out"),
            overrides.label("s_overrides"),
        )
        .select_from(
            notifications.join(shipments, shipments.c.id == N.shipment_id)
            .join(tenants, tenants.c.id == N.tenant_id)
            .outerjoin(notification_settings, notification_settings.c.tenant_id == N.tenant_id)
        )
        .where(N.id == sa.bindparam("notification_id"))
    )


# Built once: constructing this statement costs more CPU than the database spends on it.
_SEND_QUERY: Final = _send_query()


async def load_for_send(conn: AsyncConnection, notification_id: str) -> SendView | None:
    query, params = _SEND_QUERY, {"notification_id": notification_id}
    row = (await conn.execute(query, params)).mappings().first()
    if row is None:
        return None
    note = notification_of(row)
    return SendView(
        row=note,
        store_name=row["s_store_name"],
        tracking_number=row["s_tracking_number"],
        carrier=row["s_carrier"],
        recipient=Recipient.from_json(row["s_recipient"]),
        settings=_settings(row["s_settings"]),
        superseded=bool(row["s_superseded"]),
        opted_out=note.channel is ChannelKind.SMS and bool(row["s_opted_out"]),
        has_overrides=bool(row["s_overrides"]),
    )


@dataclass(frozen=True, slots=True)
class Scan:
    """The newest event with the notified status: when, where, who signed, the photo."""

    occurred_at: datetime | None = None
    location: Location | None = None
    signed_by: str | None = None
    photo_url: str | None = None
    signature_url: str | None = None  # a driver's proof of delivery only
    # The links are the gateway's own signed proof links (a driver's proof), not a carrier's.
    own_proof: bool = False


async def newest_scan(conn: AsyncConnection, shipment_id: str, status: str) -> Scan:
    query = (
        sa.select(events.c.occurred_at, events.c.location, events.c.signed_by, events.c.photo_url)
        .where(events.c.shipment_id == shipment_id, events.c.status == status)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return Scan()
    return Scan(row.occurred_at, Location.from_json(row.location), row.signed_by, row.photo_url)


@dataclass(frozen=True, slots=True)
class PlanView:
    recipient: Recipient
    settings: NotificationSettings
    sms_opted_out: bool


async def load_for_plan(conn: AsyncConnection, tenant_id: str, shipment_id: str) -> PlanView:
    """The shipment's recipient and the store's settings (one query), and the SMS opt-out."""
    query = (
        sa.select(shipments.c.recipient, notification_settings.c.config)
        .select_from(
            shipments.outerjoin(
                notification_settings, notification_settings.c.tenant_id == shipments.c.tenant_id
            )
        )
        .where(shipments.c.id == shipment_id)
    )
    row = (await conn.execute(query)).first()
    recipient = Recipient.from_json(row.recipient if row else None)
    opted_out = False
    if recipient.phone:
        optout = sa.select(sms_optouts.c.source).where(
            sms_optouts.c.tenant_id == tenant_id,
            sms_optouts.c.phone_hash == address_hash(recipient.phone),
        )
        opted_out = (await conn.execute(optout)).first() is not None
    return PlanView(recipient, _settings(row.config if row else None), opted_out)


async def event_has_proof(conn: AsyncConnection, shipment_id: str, identity: str) -> bool:
    """Whether the event carries proof of delivery (who signed, or a photo)."""
    query = sa.select(events.c.signed_by, events.c.photo_url).where(
        events.c.shipment_id == shipment_id, events.c.identity == identity
    )
    row = (await conn.execute(query)).first()
    return row is not None and bool(row.signed_by or row.photo_url)


_SENDING: Final = NotificationStatus.SENDING.value
_PENDING: Final = (NotificationStatus.QUEUED.value, NotificationStatus.SENDING.value)


async def lock_shipment(conn: AsyncConnection, shipment_id: str) -> None:
    """Plans for one shipment one at a time, so the second sees the first's message (PostgreSQL;
    on SQLite writing transactions run one at a time anyway)."""
    if conn.dialect.name == "postgresql":
        query = sa.select(shipments.c.id).where(shipments.c.id == shipment_id).with_for_update()
        await conn.execute(query)


async def recent_sends(
    conn: AsyncConnection, shipment_id: str, since: datetime
) -> list[RecentSend]:
    """The shipment's messages the burst window looks at: sent since `since`, or still pending."""
    query = sa.select(N.channel, N.status, N.reason, N.send_after, N.sent_at, N.updated_at).where(
        N.shipment_id == shipment_id,
        N.status.in_([s.value for s in LIVE_STATUSES]),
        sa.or_(N.sent_at >= since, N.status.in_(_PENDING)),
    )
    return [
        RecentSend(
            channel=ChannelKind(row.channel),
            status=NotificationStatus(row.status),
            reason=row.reason,
            send_after=row.send_after,
            # a claimed row is as good as sent: its claim time starts the window
            sent_at=row.updated_at if row.status == _SENDING else row.sent_at,
        )
        for row in await conn.execute(query)
    ]


async def last_heard(conn: AsyncConnection, row: Notification) -> tuple[str, dict[str, Any]] | None:
    """The event and facts of the newest other message sent to this address on this channel."""
    query = (
        sa.select(N.event, N.facts)
        .where(
            N.shipment_id == row.shipment_id,
            N.channel == row.channel.value,
            N.address_hash == (address_hash(row.address) if row.address else None),
            N.cause_id != row.cause_id,
            N.status.in_(
                [
                    NotificationStatus.SENDING.value,
                    NotificationStatus.SENT.value,
                    NotificationStatus.DELIVERED.value,
                ]
            ),
        )
        .order_by(N.cause_at.desc())
        .limit(1)
    )
    found = (await conn.execute(query)).first()
    return (found.event, dict(found.facts)) if found else None
