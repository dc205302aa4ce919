"""stories, channels: plain text stored before the plain-text rule is cleaned once

Titles, summaries, image captions and channel titles, descriptions and copyright lines are
now read as HTML would show them when they are written (validation.text, feeds.text
.plain_text): tags removed, character references decoded, C1 controls, U+FEFF and U+FFFD
removed. Rows written earlier are cleaned here, so feeds print them to the letter too.

Left for the next save of each story: authors, tags, section and source, because channel
filters match on their stored terms (story_terms), which would then disagree.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:25:00
"""

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from feeds.text import plain_text

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SPACES = re.compile(r"\s+")

stories = sa.table(
    "stories",
    sa.column("id", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("summary", sa.Text),
    sa.column("image", sa.JSON),
)
channels = sa.table(
    "channels",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("description", sa.Text),
    sa.column("copyright", sa.String),
)


def _line(value: str | None) -> str | None:
    """A one-line field as validation.text(single_line=True) stores it."""
    if value is None:
        return None
    return _SPACES.sub(" ", plain_text(value)).strip()


def _block(value: str | None) -> str | None:
    if value is None:
        return None
    return plain_text(value).strip()


def _cleaned(row: Any, rules: dict[str, Any]) -> dict[str, Any]:
    """The columns of `row` that cleaning changes. A required title that would come out empty
    (it was markup only) is left as it was rather than lost."""
    changes = {}
    for column, clean in rules.items():
        value = getattr(row, column)
        new = clean(value)
        if new != value and (new or column != "title"):
            changes[column] = new
    return changes


def _caption(image: Any) -> Any:
    if not isinstance(image, dict) or not isinstance(image.get("caption"), str):
        return image
    return {**image, "caption": _line(image["caption"]) or None}


def _pages(conn: Any, table: Any, columns: list[Any]):
    after = 0
    while True:  # in pages, so a large archive is never held in memory at once
        query = sa.select(table.c.id, *columns).where(table.c.id > after).order_by(table.c.id)
        rows = conn.execute(query.limit(500)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    story_rules = {"title": _line, "summary": _block, "image": _caption}
    for row in _pages(conn, stories, [stories.c.title, stories.c.summary, stories.c.image]):
        changes = _cleaned(row, story_rules)
        if changes:
            conn.execute(sa.update(stories).where(stories.c.id == row.id).values(**changes))
    channel_rules = {"title": _line, "description": _block, "copyright": _line}
    columns = [channels.c.title, channels.c.description, channels.c.copyright]
    for row in _pages(conn, channels, columns):
        changes = _cleaned(row, channel_rules)
        if changes:
            conn.execute(sa.update(channels).where(channels.c.id == row.id).values(**changes))


def downgrade() -> None:
    pass  # what was removed was markup and characters no format may carry
