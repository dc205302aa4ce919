"""log_format = "json": one JSON object per line (ts in RFC 3339 UTC, level, logger, message,
exception), from the one logging setup every process uses (ops/logs.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from syndication.config import ConfigError, load_settings
from syndication.ops.logs import JsonFormatter, formatter


def _record(message: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(
        "syndication.test", logging.ERROR, __file__, 1, message, args, exc_info
    )


def test_a_record_is_one_json_line_with_its_exception():
    try:
        raise ValueError('bad "value"\nsecond line')
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter("scheduler").format(
        _record("failed %s of %d", "\x00\u2028\udcff", 3, exc_info=exc_info)
    )
    assert "\n" not in line and "\u2028" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "syndication.test"
    assert entry["message"] == "failed \x00\u2028\udcff of 3"
    assert entry["process"] == "scheduler"
    assert entry["exception"].startswith("Traceback")
    assert 'ValueError: bad "value"\nsecond line' in entry["exception"]
    assert entry["ts"].endswith("Z")
    ts = datetime.fromisoformat(entry["ts"])
    assert ts.utcoffset() == timedelta(0)


def test_text_is_the_default_and_anything_else_is_refused():
    settings = load_settings(environ={})
    assert settings.log_format == "text"
    assert not isinstance(formatter(settings), JsonFormatter)
    assert isinstance(formatter(load_settings({"log_format": "json"}, environ={})), JsonFormatter)
    for bad in ("JSON", "logfmt", "", "json;text"):
        with pytest.raises(ConfigError, match="log_format"):
            load_settings({"log_format": bad}, environ={})


def test_cli_commands_log_json_lines(db_url, tmp_path):
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_LOG_FORMAT": "json",
        "SYNDICATION_LOG_LEVEL": "DEBUG",
    }
    done = subprocess.run(
        [sys.executable, "-m", "syndication", "channel", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines, "migrating logs at INFO"
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"].startswith("alembic") for e in entries)
    for entry in entries:
        assert entry["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
        assert "T" in entry["ts"] and entry["ts"].endswith("Z")
