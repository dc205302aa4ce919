"""The migrations build exactly the schema the models declare, on both databases, and the
newest one can be undone and redone."""

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
        # Two steps: the newest may change data only (0011); one of the two changes the schema.
        command.downgrade(cfg, "-2")
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
