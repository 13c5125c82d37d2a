"""drivers: drivers and their keys, routes and stops, positions, alerts, proofs

Revision ID: 0008_drivers
Revises: 0007_hostile
Create Date: 2026-12-02 11:26:53.106941
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_drivers"
down_revision = "0007_hostile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "driver_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_driver_keys")),
    )
    op.create_table(
        "driver_positions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.Column("route_id", sa.String(length=40), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("recorded_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("trusted", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_positions")),
    )
    with op.batch_alter_table("driver_positions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_driver_positions_driver_time", ["driver_id", "recorded_at_ms"], unique=False
        )
        batch_op.create_index("ix_driver_positions_recorded_at", ["recorded_at_ms"], unique=False)

    op.create_table(
        "driver_alerts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=True),
        sa.Column("route_id", sa.String(length=40), nullable=True),
        sa.Column("shipment_id", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_driver_alerts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_driver_alerts")),
        sa.UniqueConstraint("id", name=op.f("uq_driver_alerts_id")),
    )
    with op.batch_alter_table("driver_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_driver_alerts_tenant_seq", ["tenant_id", "seq"], unique=False)

    op.create_table(
        "drivers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_ping", sa.JSON(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_drivers_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drivers")),
    )
    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drivers_tenant_created", ["tenant_id", "created_at"], unique=False
        )

    op.create_table(
        "proofs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("route_id", sa.String(length=40), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("photo_key", sa.String(length=512), nullable=True),
        sa.Column("photo_type", sa.String(length=32), nullable=True),
        sa.Column("signature_key", sa.String(length=512), nullable=True),
        sa.Column("signature_type", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_proofs_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_proofs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proofs")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_proofs_shipment_id")),
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("driver_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("path", sa.JSON(), nullable=True),
        sa.Column("notify_stops_away", sa.Integer(), nullable=True),
        sa.Column("rule_state", sa.JSON(), nullable=False),
        sa.Column("off_route", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("off_route_episodes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name=op.f("fk_routes_driver_id_drivers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_routes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index("ix_routes_driver_state", ["driver_id", "state"], unique=False)
        batch_op.create_index("ix_routes_tenant_created", ["tenant_id", "created_at"], unique=False)

    op.create_table(
        "route_stops",
        sa.Column("route_id", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("service_s", sa.Float(), nullable=False),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=True),
        sa.Column("eta_reported", sa.DateTime(timezone=True), nullable=True),
        sa.Column("eta_reports", sa.Integer(), server_default="0", nullable=False),
        sa.Column("late_reports", sa.Integer(), server_default="0", nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_route_stops_route_id_routes")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_route_stops_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("route_id", "shipment_id", name=op.f("pk_route_stops")),
    )
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.create_index("ix_route_stops_shipment", ["shipment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.drop_index("ix_route_stops_shipment")

    op.drop_table("route_stops")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index("ix_routes_tenant_created")
        batch_op.drop_index("ix_routes_driver_state")

    op.drop_table("routes")
    op.drop_table("proofs")
    with op.batch_alter_table("drivers", schema=None) as batch_op:
        batch_op.drop_index("ix_drivers_tenant_created")

    op.drop_table("drivers")
    with op.batch_alter_table("driver_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_driver_alerts_tenant_seq")

    op.drop_table("driver_alerts")
    with op.batch_alter_table("driver_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_driver_positions_recorded_at")
        batch_op.drop_index("ix_driver_positions_driver_time")

    op.drop_table("driver_positions")
    op.drop_table("driver_keys")
