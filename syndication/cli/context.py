"""State shared by CLI commands: settings and the clock now, the runtime (database, push
context) on first use."""

from __future__ import annotations

from functools import cached_property

from syndication.clock import Clock, utcnow
from syndication.config import Settings
from syndication.db import Database
from syndication.runtime import Runtime


class CliContext:
    def __init__(
        self, settings: Settings, clock: Clock = utcnow, origins: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        # Where each setting not at its default came from (config.load_settings_with_origins).
        self.origins = origins or {}

    @cached_property
    def rt(self) -> Runtime:
        """The command's runtime: its database is migrated first (every command works on a
        current schema, also on a fresh machine), and its commits of push work wake the
        running workers."""
        rt = Runtime.create(self.settings, self.clock)
        rt.db.migrate()
        return rt

    @property
    def db(self) -> Database:
        return self.rt.db

    def close(self) -> None:
        """Release the runtime if a command made one: its connections are closed, not left
        to the garbage collector (a command may run inside a longer-lived process)."""
        if "rt" in self.__dict__:
            self.rt.close()
