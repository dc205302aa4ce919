"""stories, channels: invalid code points and body IRIs stored before the rule are cleaned once

Text and bodies now also lose DEL and the non-characters (HTML's invalid code points: the W3C
validator's NotHtml on descriptions and content) and bodies the C1 controls and U+FEFF
(BadCharacters); UTF-8 read as Latin-1 in plain text ("CafÃ©") is decoded again; URLs in
bodies are made URIs when the body is sanitised (feeds/html.py).
Rows written earlier are cleaned here: every body is sanitised again (sanitising its own output
changes nothing else), and the plain-text columns of 0012 lose those characters.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:50:00
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from feeds.html import sanitize_html
from feeds.text import strip_unprintable, undo_double_utf8

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

stories = sa.table(
    "stories",
    sa.column("id", sa.Integer),
    sa.column("url", sa.String),
    sa.column("title", sa.Text),
    sa.column("summary", sa.Text),
    sa.column("body_html", sa.Text),
    sa.column("image", sa.JSON),
)
channels = sa.table(
    "channels",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("description", sa.Text),
    sa.column("copyright", sa.String),
)


def _text(value: Any) -> Any:
    # Stored plain text is already clean of markup (0012): only characters go, never words.
    if not isinstance(value, str):
        return value
    return strip_unprintable(undo_double_utf8(value)).strip()


def _caption(image: Any) -> Any:
    if not isinstance(image, dict) or not isinstance(image.get("caption"), str):
        return image
    return {**image, "caption": _text(image["caption"]) or None}


def _body(value: Any, url: str | None) -> Any:
    # Stored bodies hold absolute URLs already; the base only matters to a relative one.
    return sanitize_html(value, url or "") if value else value


def _pages(conn: Any, table: Any, columns: list[Any]):
    after = 0
    while True:  # in pages, so a large archive is never held in memory at once
        query = sa.select(table.c.id, *columns).where(table.c.id > after).order_by(table.c.id)
        rows = conn.execute(query.limit(200)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    columns = [stories.c.url, stories.c.title, stories.c.summary, stories.c.body_html]
    for row in _pages(conn, stories, [*columns, stories.c.image]):
        new = {
            "title": _text(row.title) or row.title,  # a required title is never emptied
            "summary": _text(row.summary),
            "body_html": _body(row.body_html, row.url),
            "image": _caption(row.image),
        }
        changes = {k: v for k, v in new.items() if v != getattr(row, k)}
        if changes:
            conn.execute(sa.update(stories).where(stories.c.id == row.id).values(**changes))
    columns = [channels.c.title, channels.c.description, channels.c.copyright]
    for row in _pages(conn, channels, columns):
        new = {
            "title": _text(row.title) or row.title,
            "description": _text(row.description),
            "copyright": _text(row.copyright),
        }
        changes = {k: v for k, v in new.items() if v != getattr(row, k)}
        if changes:
            conn.execute(sa.update(channels).where(channels.c.id == row.id).values(**changes))


def downgrade() -> None:
    pass  # what was removed no format may carry; the URIs name the same resources
