"""stories: bodies stored before every URL attribute was checked are cleaned again

Before this revision nh3 let `javascript:` and `data:` URLs through in `cite` (blockquote, q,
del, ins); feeds/html.py now keeps only http(s) and mailto in every URL attribute. Bodies are
sanitised when they are saved, so those stored earlier are cleaned once here. Only bodies that
hold a `cite` are read again; the stored URLs are already absolute.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:30:00
"""

import sqlalchemy as sa
from alembic import op

from feeds.html import sanitize_html

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

stories = sa.table(
    "stories",
    sa.column("id", sa.Integer),
    sa.column("url", sa.String),
    sa.column("body_html", sa.Text),
)


def upgrade() -> None:
    conn = op.get_bind()
    after = 0
    while True:  # in pages, so a large archive is never held in memory at once
        rows = conn.execute(
            sa.select(stories.c.id, stories.c.url, stories.c.body_html)
            .where(stories.c.id > after, sa.func.lower(stories.c.body_html).contains("cite"))
            .order_by(stories.c.id)
            .limit(500)
        ).all()
        if not rows:
            return
        for story_id, url, body in rows:
            cleaned = sanitize_html(body, url or "")
            if cleaned != body:
                conn.execute(
                    sa.update(stories).where(stories.c.id == story_id).values(body_html=cleaned)
                )
        after = rows[-1].id


def downgrade() -> None:
    pass  # the removed URLs were unsafe; there is nothing to put back
