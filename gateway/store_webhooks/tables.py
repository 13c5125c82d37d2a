"""Store webhooks (outbound): endpoints, the messages owed to them, every delivery attempt.

Migration: gateway/platform/migrations/versions/0003_store_webhooks.py mirrors this file.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, metadata
from gateway.platform.vault import EncryptedText

_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # autoincrement on both backends

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("event_types", sa.JSON, nullable=False),  # list[str]
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("include_pii", sa.Boolean, nullable=False),
    sa.Column("alert_email", sa.String(320)),  # told when we disable the endpoint
    # Encrypted (LASTMILE_SECRET_KEY): signing needs the key itself, so it cannot be a hash.
    sa.Column("secret", EncryptedText, nullable=False),
    sa.Column("previous_secret", EncryptedText),  # still signs until previous_expires_at
    sa.Column("previous_expires_at", UtcDateTime()),
    sa.Column("disabled_reason", sa.String(32)),  # manual | gone | failing
    sa.Column("disabled_at", UtcDateTime()),
    sa.Column("failing_since", UtcDateTime()),  # first failure since the last success
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

webhook_messages = sa.Table(
    "webhook_messages",
    metadata,
    sa.Column("seq", _SERIAL, primary_key=True),  # delivery order inside a lane
    sa.Column("id", sa.String(40), nullable=False, unique=True),  # msg_…, the webhook-id
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("lane", sa.String(80), nullable=False),  # shipment id (ordered) or the message id
    sa.Column("body", sa.Text, nullable=False),  # the exact bytes sent on every attempt
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed | missed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime()),
    sa.Column("lease_until", UtcDateTime()),  # a worker is sending it until then
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime()),
    sa.Index("ix_webhook_messages_lane", "endpoint_id", "lane", "seq"),
    sa.Index("ix_webhook_messages_endpoint_created", "endpoint_id", "created_at"),
    sa.Index("ix_webhook_messages_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_messages_created", "created_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", _SERIAL, primary_key=True),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False),
    sa.Column("attempted_at", UtcDateTime(), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_body", sa.Text),  # first 1 KiB, decoded leniently
    sa.Column("error", sa.String(64)),  # short code: timeout, connect_error, http_500, ...
    sa.Column("next_retry_at", UtcDateTime()),
    sa.Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),
    sa.Index("ix_webhook_attempts_attempted", "attempted_at"),
)

# Things a store must be told out of band (today: an endpoint we disabled). `sent` once emailed.
store_alerts = sa.Table(
    "store_alerts",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # derived from the cause: one per cause
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(40), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime()),
)
