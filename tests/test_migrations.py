"""The migrations build exactly the schema the models declare, on both databases, and the
newest one can be undone and redone."""

import json

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from syndication.db import MIGRATIONS, Database
from syndication.models import Base


def _diff(db: Database) -> list:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_migrations_match_the_models_and_step_back(db_url):
    db = Database(db_url)
    db.migrate()
    assert _diff(db) == []
    with db.engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        # Back past the newest schema changes (0014_kill, 0015_corrections, 0016_embargo; 0011,
        # 0012 and 0013 change data only).
        command.downgrade(cfg, "0013")
    assert _diff(db) != []
    db.migrate()
    assert _diff(db) == []
    db.dispose()


def test_bodies_stored_before_url_attributes_were_checked_are_cleaned(db_url):
    """0011: a `javascript:` cite stored by an older version is gone after the upgrade; clean
    bodies are left exactly as they were."""
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0010")  # the database as an older version left it
        insert = text(
            "INSERT INTO stories (code, title, summary, body_html, url, authors, tags, status,"
            " created_at, updated_at, revision, content_hash) VALUES (:code, 't', '', :body,"
            " :url, '[]', '[]', 'published', :now, :now, 1, '')"
        )
        now = "2025-01-01 00:00:00"
        hostile = '<blockquote cite="javascript:alert(1)"><p>Quoted</p></blockquote>'
        clean = '<blockquote cite="https://example.org/q"><p>Quoted</p></blockquote>'
        conn.execute(insert, {"code": "old", "body": hostile, "url": None, "now": now})
        url = "https://example.org/"
        conn.execute(insert, {"code": "ok", "body": clean, "url": url, "now": now})
        command.upgrade(cfg, "head")
        bodies = dict(conn.execute(text("SELECT code, body_html FROM stories")).all())
    assert "javascript" not in bodies["old"] and "Quoted" in bodies["old"]
    assert bodies["ok"] == clean
    db.dispose()


def test_plain_text_stored_before_the_rule_is_cleaned(db_url):
    """0012: markup, character references and C1 controls in stored titles, summaries,
    captions and channel text are cleaned; a title of markup only is kept rather than lost."""
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0011")
        insert = text(
            "INSERT INTO stories (code, title, summary, body_html, image, authors, tags, status,"
            " created_at, updated_at, revision, content_hash) VALUES (:code, :title, :summary,"
            " '', :image, '[]', '[]', 'published', :now, :now, 1, '')"
        )
        now = "2025-01-01 00:00:00"
        image = '{"url": "https://example.org/a.jpg", "caption": "A <i>caption</i>\u0085"}'
        rows = [
            ("dirty", "Profits &amp; Losses: <b>Q3</b>\u009f", "Line one<br>line two\ufeff", image),
            ("markup", "<b></b>", "", None),
            ("clean", "Hostile & <Tests>", "Fine.", None),
        ]
        for code, title, summary, img in rows:
            conn.execute(
                insert,
                {
                    "code": code,
                    "title": title,
                    "summary": summary,
                    "image": img,
                    "now": now,
                },
            )
        conn.execute(
            text(
                "INSERT INTO channels (slug, title, description, filter, content, formats,"
                " created_at, changed_at, version) VALUES ('c', 'News &lt;daily&gt;',"
                " '<p>About</p>', '{}', 'full', '[\"rss\"]', :now, :now, 1)"
            ),
            {"now": now},
        )
        command.upgrade(cfg, "head")
        stories = {
            code: (title, summary, image)
            for code, title, summary, image in conn.execute(
                text("SELECT code, title, summary, image FROM stories")
            ).all()
        }
        channel = conn.execute(text("SELECT title, description FROM channels")).one()
    assert stories["dirty"][0] == "Profits & Losses: Q3"
    assert stories["dirty"][1] == "Line one\nline two"
    caption = stories["dirty"][2]
    caption = (json.loads(caption) if isinstance(caption, str) else caption)["caption"]
    assert caption == "A caption"
    assert stories["markup"][0] == "<b></b>"
    assert stories["clean"][:2] == ("Hostile & <Tests>", "Fine.")
    assert tuple(channel) == ("News <daily>", "About")
    db.dispose()


def test_invalid_code_points_and_body_iris_stored_before_the_rule_are_cleaned(db_url):
    """0013: DEL, non-characters and C1 controls leave stored bodies and text, UTF-8 read as
    Latin-1 is decoded again, body IRIs become URIs; clean rows are left exactly as they were."""
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0012")
        insert = text(
            "INSERT INTO stories (code, title, summary, body_html, image, authors, tags, status,"
            " created_at, updated_at, revision, content_hash) VALUES (:code, :title, :summary,"
            " :body, :image, '[]', '[]', 'published', :now, :now, 1, '')"
        )
        now = "2025-01-01 00:00:00"
        image = '{"url": "https://example.org/a.jpg", "caption": "Map\u007f\ufdd0"}'
        dirty_body = (
            '<p>Body\u009f\u007f\ufdd0 <a href="https://b\u00fccher.example/\u00e4">x</a></p>'
        )
        clean_body = (  # as the sanitiser stores it
            '<p>Fine <a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer">'
            "y</a></p>"
        )
        rows = [
            ("dirty", "Title\u007f\U0001fffe CafÃ©", "Sum\ufdefmary", dirty_body, image),
            ("clean", "Hostile & <Tests>", "Fine.", clean_body, None),
        ]
        for code, title, summary, body, img in rows:
            values = {"code": code, "title": title, "summary": summary, "body": body}
            conn.execute(insert, {**values, "image": img, "now": now})
        conn.execute(
            text(
                "INSERT INTO channels (slug, title, description, filter, content, formats,"
                " created_at, changed_at, version) VALUES ('c', :title, 'About', '{}', 'full',"
                " '[\"rss\"]', :now, :now, 1)"
            ),
            {"now": now, "title": "News\u007f"},
        )
        command.upgrade(cfg, "head")
        stories = {
            row.code: row
            for row in conn.execute(
                text("SELECT code, title, summary, body_html, image FROM stories")
            )
        }
        channel_title = conn.execute(text("SELECT title FROM channels")).scalar_one()
    dirty, clean = stories["dirty"], stories["clean"]
    assert (dirty.title, dirty.summary) == ("Title Café", "Summary")
    assert dirty.body_html == (
        '<p>Body <a href="https://xn--bcher-kva.example/%C3%A4" rel="noopener noreferrer">x</a></p>'
    )
    caption = json.loads(dirty.image) if isinstance(dirty.image, str) else dirty.image
    assert caption["caption"] == "Map"
    assert (clean.title, clean.summary, clean.body_html) == (
        "Hostile & <Tests>",
        "Fine.",
        clean_body,
    )
    assert channel_title == "News"
    db.dispose()


def test_subscribers_of_updates_are_given_corrections(db_url):
    """0015_corrections: a subscriber that chose story.updated gets story.corrected too; one
    that did not keeps its choice; "all" (an empty list) stays all; stories get `[]`."""
    db = Database(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "0013")
        insert = text(
            "INSERT INTO subscribers (kind, name, url, secret, event_types, channels, filter,"
            " format, headers, active, created_at) VALUES ('webhook', :name, 'https://p.example/',"
            " 'whsec_x', :types, '[]', '{}', 'json', '{}', :active, '2025-01-01 00:00:00')"
        )
        for name, types in (
            ("updates", '["story.published", "story.updated"]'),
            ("published", '["story.published"]'),
            ("all", "[]"),
        ):
            conn.execute(insert, {"name": name, "types": types, "active": True})
        conn.execute(
            text(
                "INSERT INTO stories (code, title, summary, body_html, authors, tags, status,"
                " created_at, updated_at, revision, content_hash) VALUES ('old', 't', '', '',"
                " '[]', '[]', 'published', '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, '')"
            )
        )
        command.upgrade(cfg, "head")
        rows = conn.execute(text("SELECT name, event_types FROM subscribers")).all()
        corrections = conn.execute(text("SELECT corrections FROM stories")).scalar_one()
    types = {name: json.loads(t) if isinstance(t, str) else t for name, t in rows}
    assert types == {
        "updates": ["story.published", "story.updated", "story.corrected"],
        "published": ["story.published"],
        "all": [],
    }
    assert (json.loads(corrections) if isinstance(corrections, str) else corrections) == []
    db.dispose()
