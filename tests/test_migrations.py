"""The migrations build exactly the schema the models declare, on both databases, and the
newest one can be undone and redone."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

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
        command.downgrade(cfg, "-1")
    assert _diff(db) != []
    db.migrate()
    assert _diff(db) == []
    db.dispose()
