"""Settings: defaults documented in config/default.toml, environment overrides, clear errors."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from syndication.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_documents_every_setting_with_its_default():
    documented = tomllib.loads((ROOT / "config" / "default.toml").read_text())
    assert documented == asdict(Settings())
    text = (ROOT / "config" / "default.toml").read_text()
    for f in fields(Settings):  # each setting has a comment just above it
        before = text.split(f"\n{f.name} =")[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"{f.name} has no comment"


def test_production_example_is_valid(tmp_path):
    example = ROOT / "config" / "production.example.toml"
    settings = load_settings(environ={"SYNDICATION_CONFIG": str(example)})
    assert settings.base_url == "https://news.example.com"


def test_environment_overrides_file_and_defaults(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('feed_max_age = 30\ntimezone = "Europe/Paris"\n')
    settings = load_settings(
        environ={
            "SYNDICATION_CONFIG": str(cfg),
            "SYNDICATION_FEED_MAX_AGE": "90",
            "SYNDICATION_BASE_URL": "https://n.example",
            "SYNDICATION_DATABASE_URL": "postgresql+psycopg://u@h/db",
        }
    )
    assert settings.feed_max_age == 90
    assert settings.timezone == "Europe/Paris"
    assert settings.base_url == "https://n.example"
    assert settings.db_url == "postgresql+psycopg://u@h/db"


def test_embedded_default_is_sqlite_in_the_instance_folder(tmp_path):
    settings = load_settings(environ={"SYNDICATION_INSTANCE_PATH": str(tmp_path)})
    assert settings.db_url == f"sqlite:///{tmp_path / 'syndication.db'}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SYNDICATION_TIMEZONE": "Mars/Olympus"}, "timezone: unknown IANA time zone"),
        ({"SYNDICATION_FEED_MAX_AGE": "soon"}, "SYNDICATION_FEED_MAX_AGE: expected int"),
        ({"SYNDICATION_FEED_MAX_AGE": "-1"}, "feed_max_age: must be between"),
        ({"SYNDICATION_BASE_URL": "news.example"}, "base_url: must be an absolute http(s) URL"),
        ({"SYNDICATION_BASE_URL": "https://n.example/"}, "trailing slash"),
        ({"SYNDICATION_DATABASE_URL": "mysql://x"}, "database_url: only sqlite"),
        ({"SYNDICATION_DEFAULT_LANGUAGE": "english"}, "default_language: not a valid BCP 47"),
        ({"SYNDICATION_FEED_LIMIT": "501"}, "feed_limit: must be between 1 and 500"),
        ({"SYNDICATION_TRUSTED_PROXIES": "6"}, "trusted_proxies: must be between 0 and 5"),
    ],
)
def test_invalid_setting_names_the_setting(env, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_in_config_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("feed_maxage = 30\n")
    with pytest.raises(ConfigError, match="unknown setting 'feed_maxage'"):
        load_settings(environ={"SYNDICATION_CONFIG": str(cfg)})


def test_bad_setting_stops_startup_with_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SYNDICATION_TIMEZONE": "Nowhere/Land",
        "SYNDICATION_INSTANCE_PATH": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "syndication", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "timezone" in lines[0] and "Nowhere/Land" in lines[0]
