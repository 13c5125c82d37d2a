"""Store webhook events: `emit()` records what each subscribed endpoint is owed.

Call `emit` inside the transaction that caused the event. Per endpoint that subscribes to the type
it writes one message (its id derived from `idempotency_key` and the endpoint, so a retried caller
never emits twice) and an outbox job that delivers it (gateway/store_webhooks/jobs.py).

Payload rules: `data` is sent as the body's `data`. Keys named `phone` or `email` (at any depth)
are removed unless the endpoint asked for `include_pii`; `push_tokens` never leave. Put a
`shipment_id` in `data` when the event concerns a shipment: deliveries to one endpoint are then
ordered per shipment.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.platform.names import Job
from gateway.platform.outbox import add_job
from gateway.store_webhooks import store_messages as messages

PII_KEYS: Final = frozenset({"phone", "email"})
NEVER_SENT_KEYS: Final = frozenset({"push_tokens"})


class EventType(StrEnum):
    SHIPMENT_STATUS_CHANGED = "shipment.status_changed"
    SHIPMENT_ETA_CHANGED = "shipment.eta_changed"
    SHIPMENT_LATE = "shipment.late"
    DRIVER_OFF_ROUTE = "driver.off_route"
    DRIVER_ARRIVING = "driver.arriving"
    DRIVER_BACK_ON_ROUTE = "driver.back_on_route"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    RATING_CREATED = "rating.created"
    CUSTOMER_MESSAGE = "customer.message"


EVENT_TYPES: Final = frozenset(t.value for t in EventType)


async def emit(
    conn: AsyncConnection,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    idempotency_key: str,
    *,
    lane: str | None = None,
) -> None:
    """Record one message per subscribed endpoint of the tenant, with its delivery job.

    Endpoints that are disabled still get the message (status `missed`, no job), so a store can
    replay what it missed. `lane` orders deliveries (default: the data's `shipment_id`), e.g. a
    route's off/back on route pair. Raises ValueError for an unknown event type.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    now = datetime.now(UTC)
    lane_key = lane or data.get("shipment_id")
    for endpoint in await messages.subscribed_endpoints(conn, tenant_id, event_type):
        message_id = message_id_for(idempotency_key, endpoint.id)
        body = encode_body(event_type, now, scrub(data, include_pii=endpoint.include_pii))
        await messages.insert_message(
            conn,
            messages.NewMessage(
                id=message_id,
                endpoint_id=endpoint.id,
                tenant_id=tenant_id,
                event_type=event_type,
                lane=str(lane_key) if lane_key else message_id,
                body=body,
                pending=endpoint.enabled,
                created_at=now,
            ),
        )
        if endpoint.enabled:
            await add_job(conn, Job.DELIVER_WEBHOOK, delivery_job_id(message_id), message_id)


def delivery_job_id(message_id: str) -> str:
    """The delivery job a message is born with; the reconciler queues it again if lost."""
    return f"webhook:{message_id}"


def message_id_for(idempotency_key: str, endpoint_id: str) -> str:
    digest = hashlib.sha256(f"{idempotency_key}\x00{endpoint_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def encode_body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The exact body: `{"type", "timestamp", "data"}`, compact, stored and re-sent as is."""
    stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": event_type, "timestamp": stamp, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def scrub(value: Any, *, include_pii: bool) -> Any:
    """A copy of `value` without push tokens, and without phones and emails unless asked."""
    if isinstance(value, dict):
        dropped = NEVER_SENT_KEYS if include_pii else NEVER_SENT_KEYS | PII_KEYS
        cleaned = {
            key: scrub(item, include_pii=include_pii)
            for key, item in value.items()
            if key not in dropped
        }
        return {key: item for key, item in cleaned.items() if item != {} or value[key] == {}}
    if isinstance(value, list):
        return [scrub(item, include_pii=include_pii) for item in value]
    return value
