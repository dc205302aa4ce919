"""The one logging setup of every process: the web app (create_app), `syndication run`'s
scheduler, `syndication worker` and the other CLI commands.

`log_format = "text"`: "time LEVEL logger: message". `log_format = "json"`: one JSON object per
line, {"ts", "level", "logger", "message"} plus "exception" (the traceback) when there is one and
"process" (scheduler, worker) in the job processes, for a log collector to read without parsing
text. Standard error either way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from syndication.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_syndication_handler"  # on the handler this module installed


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def __init__(self, process: str | None = None, **_: Any) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            # RFC 3339, UTC, milliseconds: sorts as text, read by every log collector.
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.process:
            entry["process"] = self.process
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: a message with a control character or a lone surrogate stays one line.
        return json.dumps(entry, ensure_ascii=True, default=str)


def formatter(settings: Settings, process: str | None = None) -> logging.Formatter:
    if settings.log_format == "json":
        return JsonFormatter(process)
    label = f"[{process}] " if process else ""
    return logging.Formatter(TEXT_FORMAT.replace("%(name)s", label + "%(name)s"))


def setup_logging(settings: Settings, process: str | None = None) -> None:
    """Log to standard error at `log_level` in `log_format`. Called again (create_app in a
    process whose CLI already did), it changes this module's handler in place; when something
    else configured logging first (a test runner, a program embedding the app), theirs stays."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _MARK, False)), None)
    if handler is None:
        if root.handlers:
            return
        handler = logging.StreamHandler()
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    handler.setFormatter(formatter(settings, process))
    root.setLevel(settings.log_level.upper())
    # APScheduler logs every run of every job at INFO: keep its warnings, drop the chatter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def granian_log_config(settings: Settings) -> dict[str, Any] | None:
    """Granian's own log lines (its workers' start and stop) in the same format, for its
    `log_dictconfig`; None keeps granian's default (text)."""
    if settings.log_format != "json":
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter", "process": "granian"}
    return {"formatters": {"generic": json_formatter, "access": json_formatter}}
