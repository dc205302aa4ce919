"""pull API: deliveries of pull subscribers handed out by page (deliveries.pull_page), each
partner's page counter (partners.pull_page), the available deliveries in version order

Revision ID: 0019_pull
Revises: 0018_heartbeats
Create Date: 2026-12-02 11:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_pull"
down_revision = "0018_heartbeats"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("pull_page", _BIG, nullable=False, server_default="0"))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("pull_page", _BIG, nullable=True))
        batch.create_index(
            "ix_deliveries_available",
            ["subscriber_id", "event_id", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'available'"),
            sqlite_where=sa.text("status = 'available'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_available")
        batch.drop_column("pull_page")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("pull_page")
