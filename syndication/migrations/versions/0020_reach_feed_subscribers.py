"""reach_reports and reach_clients: feed subscribers per channel per UTC day (stated counts of
hosted readers, daily-keyed hashes of other clients)

Revision ID: 0020_reach
Revises: 0019_pull
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_reach"
down_revision = "0019_pull"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reach_reports",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("feed_key", sa.String(length=64), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "day", "reader", "feed_key"),
    )
    op.create_index("ix_reach_reports_day", "reach_reports", ["day"], unique=False)
    op.create_table(
        "reach_clients",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("client", sa.String(length=16), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "day", "client"),
    )
    op.create_index("ix_reach_clients_day", "reach_clients", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reach_clients_day", table_name="reach_clients")
    op.drop_table("reach_clients")
    op.drop_index("ix_reach_reports_day", table_name="reach_reports")
    op.drop_table("reach_reports")
