"""Shared fixtures: every storage-touching test runs on a real SQLite file and on PostgreSQL.

PostgreSQL comes from SYNDICATION_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
Each pytest-xdist worker gets its own database, migrated once; tables are emptied between tests.
If no server answers, PostgreSQL tests skip with the reason, unless SYNDICATION_REQUIRE_POSTGRES=1
(set by .ci/run), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syndication.app import create_app
from syndication.config import load_settings
from syndication.db import Database
from syndication.models import Base
from syndication.runtime import Runtime
from tests.pushkit import FakeClock

PG_URL = os.environ.get(
    "SYNDICATION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BASE_URL = "http://news.example.test"


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's default instance folder is its own (SYNDICATION_HOME, inherited by the
    processes it starts): no test reads or writes the real per-user data directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("SYNDICATION_HOME", str(home))
    return home


def _pg_driver_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_database(worker_id: str) -> Iterator[str | None]:
    """A migrated PostgreSQL database of this worker's own, or the reason there is none."""
    admin_url = _pg_driver_url(PG_URL)
    # The pid keeps concurrent test runs on one server (two checkouts, say) out of each other's way.
    name = f"synd_test_{worker_id}_{os.getpid()}"
    try:
        admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "no server"
        if os.environ.get("SYNDICATION_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        yield None
        return
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "instance" / "syndication.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("_pg_database")
    if url is None:
        pytest.skip(f"PostgreSQL: no server answers at {PG_URL}")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def make_settings(db_url: str, tmp_path: Path, **overrides):
    """Settings for a test app on `db_url`, with its instance folder under `tmp_path`."""
    return load_settings(
        {
            "database_url": db_url,
            "base_url": BASE_URL,
            "instance_path": str(tmp_path / "instance"),
            **overrides,
        },
        environ={},
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    return make_settings(db_url, tmp_path, timezone="Europe/London")


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["syndication"].close()


@pytest.fixture
def clock() -> FakeClock:
    """A clock moved by hand (a module whose time starts elsewhere defines its own)."""
    return FakeClock()


@pytest.fixture
def ctx(rt, clock):
    """The push context under test: the app's database, the `clock` moved by hand, no jitter."""
    ctx = rt.push.derive(clock=clock, rand=lambda: 0.5)
    yield ctx
    ctx.close()


@pytest.fixture
def clocked_app(settings, clock):
    """The app on the `clock` fixture of the module asking (a FakeClock moved by hand): a module
    uses it as its `app` where requests and jobs must read that clock."""
    app = create_app(runtime=Runtime.create(settings, clock))
    app.config["TESTING"] = True
    yield app
    app.extensions["syndication"].close()


@pytest.fixture
def rt(app) -> Runtime:
    return app.extensions["syndication"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """pytest-xdist's worker id ("gw0"…), or "master" without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


@pytest.fixture
def invoke(db_url: str, tmp_path: Path):
    """Runs the real CLI (`syndication ...`) in-process on the test's database; add settings
    for a test through `invoke.env` before calling it."""
    from click.testing import CliRunner

    from syndication.cli import cli

    env = {
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_BASE_URL": BASE_URL,
        "SYNDICATION_TIMEZONE": "Europe/London",
    }

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    run.env = env  # type: ignore[attr-defined]
    return run

