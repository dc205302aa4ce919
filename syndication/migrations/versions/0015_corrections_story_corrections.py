"""stories.corrections: public corrections of a story; subscribers of updates get them too

Each correction is {"text", "at"}, appended by stories/service.correct_story. Subscribers that
chose `story.updated` are given the new `story.corrected` as well: a correction is a change they
asked to hear about (new subscribers get every event type by default).

Revision ID: 0015_corrections
Revises: 0014_kill
Create Date: 2026-12-02 08:40:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0015_corrections"
down_revision = "0014_kill"
branch_labels = None
depends_on = None

subscribers = sa.table(
    "subscribers", sa.column("id", sa.Integer), sa.column("event_types", sa.JSON)
)


def _types(value: object) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if isinstance(value, list) else []


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(
            sa.Column("corrections", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    conn = op.get_bind()
    for row in conn.execute(sa.select(subscribers.c.id, subscribers.c.event_types)).all():
        types = _types(row.event_types)
        if "story.updated" in types and "story.corrected" not in types:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == row.id)
                .values(event_types=[*types, "story.corrected"])
            )


def downgrade() -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(subscribers.c.id, subscribers.c.event_types)).all():
        types = _types(row.event_types)
        if "story.corrected" in types:
            conn.execute(
                subscribers.update()
                .where(subscribers.c.id == row.id)
                .values(event_types=[t for t in types if t != "story.corrected"])
            )
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("corrections")
