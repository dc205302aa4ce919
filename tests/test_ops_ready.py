"""GET /ready: the database answers, its schema is at this code's revision, and a job process
wrote its heartbeat within 3 poll intervals of the runtime's clock. Also the heartbeat itself
(written by the scheduler at start and every poll interval, by `syndication worker` too) and
the JSON log lines of the processes."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, text

from syndication.app import create_app
from syndication.models import Heartbeat
from syndication.ops import heartbeat
from syndication.ops.ready import head_revisions
from syndication.runtime import Runtime
from syndication.scheduler import start_scheduler
from tests.conftest import make_settings
from tests.pushkit import wait_for
from tests.test_push_engine import Worker

POLL = 2.0


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, poll_interval=POLL)


@pytest.fixture
def app(clocked_app):
    return clocked_app


def _ready(client) -> tuple[int, dict]:
    response = client.get("/ready")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_fresh_heartbeat_is_ready_and_a_stale_one_is_not(client, rt, clock):
    heartbeat.beat(rt.db, clock, "scheduler")
    assert _ready(client) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "scheduler": "ok"}},
    )
    clock.advance(3 * POLL)  # the edge: still within 3 poll intervals
    assert _ready(client)[0] == 200
    clock.advance(0.5)
    status, body = _ready(client)
    assert status == 503
    assert body == {
        "status": "not ready",
        "checks": {"database": "ok", "migrations": "ok", "scheduler": "stale"},
        "failed": ["scheduler"],
    }
    heartbeat.beat(rt.db, clock, "worker", "other-host:1")  # any job process will do
    assert _ready(client)[0] == 200


def test_no_heartbeat_ever_is_not_ready_unless_no_scheduler_is_required(client, db_url, tmp_path):
    status, body = _ready(client)
    assert status == 503 and body["checks"]["scheduler"] == "no heartbeat"
    app = create_app(make_settings(db_url, tmp_path, ready_requires_scheduler=False))
    try:
        status, body = _ready(app.test_client())
        assert status == 200
        assert body["checks"] == {
            "database": "ok",
            "migrations": "ok",
            "scheduler": "not required",
        }
    finally:
        app.extensions["syndication"].close()


def test_database_down_is_not_ready_and_says_nothing_more(db_url, tmp_path):
    if db_url.startswith("sqlite"):
        (tmp_path / "a-folder").mkdir()
        bad = f"sqlite:///{tmp_path / 'a-folder'}"  # a folder: cannot be opened as a database
    else:
        bad = "postgresql+psycopg://postgres:secret-password@127.0.0.1:1/test"  # nothing listens
    app = create_app(make_settings(bad, tmp_path))
    try:
        response = app.test_client().get("/ready")
        assert response.status_code == 503
        assert response.get_json() == {
            "status": "not ready",
            "checks": {"database": "unreachable", "migrations": "unknown", "scheduler": "unknown"},
            "failed": ["database", "migrations", "scheduler"],
        }
        body = response.get_data(as_text=True)
        for secret in ("secret-password", "a-folder", "127.0.0.1", "sqlite", "psycopg"):
            assert secret not in body
    finally:
        app.extensions["syndication"].close()


def test_migrations_behind_is_not_ready(client, rt, clock, db_url):
    heartbeat.beat(rt.db, clock, "scheduler")
    (head,) = head_revisions()
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            # As `alembic stamp 0016_embargo` leaves it: code newer than its database.
            conn.execute(text("UPDATE alembic_version SET version_num = '0016_embargo'"))
        status, body = _ready(client)
        assert status == 503
        assert body["checks"] == {"database": "ok", "migrations": "not current", "scheduler": "ok"}
        assert body["failed"] == ["migrations"]
        assert "0016" not in json.dumps(body)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()
    assert _ready(client)[0] == 200


def test_a_database_never_migrated_is_not_ready(tmp_path):
    # An empty SQLite file stands for any database never migrated.
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))
    try:
        status, body = _ready(app.test_client())
        assert status == 503
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["migrations"] == "not current"
    finally:
        app.extensions["syndication"].close()


def _beats(rt) -> dict[str, tuple[str, datetime]]:
    with rt.db.read() as s:
        return {h.process: (h.role, h.at) for h in s.scalars(select(Heartbeat))}


def test_the_scheduler_beats_at_start_and_as_a_job(settings, clock):
    rt = Runtime.create(settings, clock)
    jobs = start_scheduler(rt, role="scheduler")
    try:
        beats = _beats(rt)
        assert list(beats.values()) == [("scheduler", clock())]
        assert list(beats) == [heartbeat.process_name()]
        job = jobs.scheduler.get_job("heartbeat")
        assert job.trigger.interval == timedelta(seconds=POLL)
        clock.advance(30)
        job.func(*job.args)  # the job's own call, as the scheduler makes it
        assert list(_beats(rt).values()) == [("scheduler", clock())]
    finally:
        jobs.shutdown()
        rt.close()


def test_heartbeats_of_processes_gone_are_pruned(rt, clock):
    heartbeat.beat(rt.db, clock, "worker", "gone:1")
    clock.advance(timedelta(days=1, seconds=1).total_seconds())
    heartbeat.beat(rt.db, clock, "worker", "alive:2")
    assert heartbeat.prune(rt.db, clock) == 1
    assert set(_beats(rt)) == {"alive:2"}


def test_a_worker_process_beats_and_logs_json_lines(rt):
    """`syndication worker` writes its heartbeat (role worker), so /ready on a web-only node
    answers 200; its log lines are JSON when log_format = json."""
    app = create_app(runtime=Runtime.create(rt.settings))  # the real clock, like the worker's
    worker = Worker(rt.settings, log_format="json", log_level="INFO", poll_interval=1)
    try:
        wait_for(lambda: any(role == "worker" for role, _ in _beats(rt).values()), 60)
        assert app.test_client().get("/ready").status_code == 200
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=30) == 0
        lines = worker.proc.stderr.read().splitlines()
    finally:
        worker.stop()
        app.extensions["syndication"].close()
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"ts", "level", "logger", "message"} <= set(entry)
        assert datetime.fromisoformat(entry["ts"]).utcoffset() == timedelta(0)
    # The command's own lines (migrating) come before its jobs start and name no process.
    own = [(e["process"], e["message"]) for e in entries if "process" in e]
    assert own[0] == ("worker", "jobs started")
    assert own[-1] == ("worker", "jobs stopped")
