"""subscribers.receives_embargoed: trusted partners told of scheduled stories (story.embargoed);
events by story and type (was a story's embargo told, and to whom)

Revision ID: 0016_embargo
Revises: 0015_corrections
Create Date: 2026-12-02 08:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_embargo"
down_revision = "0015_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("receives_embargoed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("events") as batch:
        batch.create_index("ix_events_story_type", ["story_id", "type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_story_type")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("receives_embargoed")
