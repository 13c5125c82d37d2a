"""Customer notifications: rules, tenant settings, template overrides, the log, SMS opt-outs.

Migration: gateway/platform/migrations/versions/0002_notifications.py mirrors this file.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, metadata

notification_rules = sa.Table(
    "notification_rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # list[TriggerEvent]
    sa.Column("channels", sa.JSON, nullable=False),  # list[ChannelKind], in fallback order
    sa.Column("mode", sa.String(16), nullable=False),  # fallback | all
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per tenant that changed a default; `config` is NotificationSettings as JSON.
notification_settings = sa.Table(
    "notification_settings",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

notification_templates = sa.Table(
    "notification_templates",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("channel", sa.String(8), primary_key=True),
    sa.Column("locale", sa.String(8), primary_key=True),
    sa.Column("event", sa.String(32), primary_key=True),
    sa.Column("parts", sa.JSON, nullable=False),  # {"body"} | {"title","body"} | {"subject",...}
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    # "ntf_" + hash(cause, channel, address): the same cause never yields two rows.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("cause_id", sa.String(160), nullable=False),  # shipment_changes.id or a dispatcher id
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("address", sa.Text),  # phone, email or push token: needed to send; never logged
    sa.Column("address_hash", sa.String(64)),
    sa.Column("fallback", sa.JSON, nullable=False),  # channels still to try, in order
    sa.Column("facts", sa.JSON, nullable=False),  # what the message says (status, ETA, ...)
    sa.Column("template", sa.String(120)),
    sa.Column("subject", sa.Text),  # email subject or push title
    sa.Column("body", sa.Text),  # SMS text, email plain text or push body
    sa.Column("html", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("provider_id", sa.String(100), index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cause_at", UtcDateTime(), nullable=False),  # orders a shipment's news
    sa.Column("send_after", UtcDateTime()),  # waiting (collapse, quiet hours, retry) until
    # `sending` only: the run that claimed it may still record the provider's answer until then.
    sa.Column("lease_until", UtcDateTime()),
    sa.Column("resend_of", sa.String(40)),  # the notification a store re-sent on purpose
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime()),
    sa.Column("delivered_at", UtcDateTime()),
    sa.Index("ix_notifications_newest", "shipment_id", "channel", "cause_at"),
    sa.Index("ix_notifications_address", "address_hash", "channel", "sent_at"),
    sa.Index("ix_notifications_due", "status", "send_after"),  # the reconciler
    sa.Index(
        "ix_notifications_outcome_unknown",
        "tenant_id",
        "created_at",
        postgresql_where=sa.text("reason = 'outcome_unknown'"),
        sqlite_where=sa.text("reason = 'outcome_unknown'"),
    ),
)

sms_optouts = sa.Table(
    "sms_optouts",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("phone_hash", sa.String(64), primary_key=True),  # domain.notify.address_hash
    sa.Column("source", sa.String(32), nullable=False),  # keyword | provider
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# Provider callbacks already applied, by the provider's own id (Twilio MessageSid, SendGrid
# sg_event_id, ...): a replayed callback is recognised and changes nothing. Rows are recorded in
# the transaction that applies the callback.
provider_callbacks = sa.Table(
    "provider_callbacks",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),  # twilio_sms | twilio_status | sendgrid
    sa.Column("callback_id", sa.String(120), primary_key=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Index("ix_provider_callbacks_received_at", "received_at"),
)
