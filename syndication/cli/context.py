"""State shared by CLI commands: settings now, the database on first use."""

from __future__ import annotations

from functools import cached_property

from syndication.config import Settings
from syndication.db import Database


class CliContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        db = Database(self.settings.db_url)
        db.migrate()  # every command works on a current schema, also on a fresh machine
        return db
