"""stories: killed_at and kill_reason, the tombstone a takedown leaves (stories/kill.py), and
an index for the Atom tombstones of recently killed or retracted stories

Revision ID: 0014_kill
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndication.models import UTCDateTime

revision = "0014_kill"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("killed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("kill_reason", sa.String(length=500), nullable=True))
    op.create_index("ix_stories_gone", "stories", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_stories_gone", table_name="stories")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("kill_reason")
        batch.drop_column("killed_at")
