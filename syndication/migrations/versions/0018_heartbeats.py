"""heartbeats: the job processes' sign of life, read by GET /ready

Revision ID: 0018_heartbeats
Revises: 0017_partners
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

from syndication.models import UTCDateTime

revision = "0018_heartbeats"
down_revision = "0017_partners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("process", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_heartbeats_at", "heartbeats", ["at"])


def downgrade() -> None:
    op.drop_index("ix_heartbeats_at", table_name="heartbeats")
    op.drop_table("heartbeats")
