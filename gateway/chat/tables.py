"""Tables of the chat area: the messages of each shipment's thread, and drivers' relay choice.

Migration: gateway/platform/migrations/versions/0010_links_chat.py mirrors this file.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.platform.tables import UtcDateTime, created_column, metadata, tenant_column

_BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: the rowid alias

# One row per message, customer or driver. No phone numbers: the relay looks them up when it
# sends (the customer's from the shipment, the driver's from the drivers area), so the thread
# can be shown to anyone it concerns. `seq` orders a thread and lets the driver app poll.
chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("seq", _BIG_ID, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    tenant_column(),
    sa.Column("shipment_id", sa.String(40), sa.ForeignKey("shipments.id"), nullable=False),
    sa.Column("driver_id", sa.String(40)),  # the driver of the stop when it was written
    sa.Column("sender", sa.String(8), nullable=False),  # rules.Sender
    sa.Column("via", sa.String(8), nullable=False),  # rules.Via
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("relay", sa.String(8), nullable=False),  # rules.Relay
    sa.Column("relay_status", sa.String(8), nullable=False),  # rules.RelayStatus
    sa.Column("relay_reason", sa.String(64)),  # why a relay SMS failed or was not sent
    sa.Column("provider_id", sa.String(64)),  # the relay SMS's id at the provider
    created_column(),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_chat_messages_shipment_seq", "shipment_id", "seq"),
    sa.Index("ix_chat_messages_driver_seq", "driver_id", "seq"),
    sa.Index("ix_chat_messages_relay_due", "relay_status", "updated_at"),  # the reconciler
)

# Whether a driver also gets customers' messages by SMS (else only in the driver app).
chat_driver_settings = sa.Table(
    "chat_driver_settings",
    metadata,
    sa.Column("driver_id", sa.String(40), primary_key=True),
    tenant_column(),
    sa.Column("sms", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
