"""`syndication import` never loses a good record: whatever a bad one raises, it is reported
with its place and reason and skipped, the good ones before and after it are stored, the exit
status is 1; and the import commits in short transactions. Through the real CLI, on a real
SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime

from sqlalchemy import select, text

from syndication.imports import Record
from syndication.imports.runner import import_records
from syndication.models import Story
from syndication.stories.service import create_story
from syndication.validation import DATE_RANGE

OVERFLOW = "0001-01-01T00:00:00+14:00"  # OverflowError once converted to UTC
SURROGATE_URL = "https://wire.example/a\ud800b"  # a lone surrogate: no database can store it


def _titles(rt) -> set[str]:
    with rt.db.read() as s:
        return set(s.scalars(select(Story.title)))


def _stored_before(rt) -> None:
    with rt.db.write() as s:
        create_story(
            s, rt.settings, {"title": "Already here", "external_id": "held"}, now=datetime.now(UTC)
        )


def _good(n: int) -> list[dict]:
    return [{"title": f"good {n}.{i}"} for i in range(3)]


# Three good, one bad, three good…: the bad ones are the (an overflowing date, a lone
# surrogate, a duplicate external_id within the file and one another story already holds).
RECORDS = [
    *_good(1),
    {"title": "bad date", "published_at": OVERFLOW},
    *_good(2),
    {"title": "bad url", "url": SURROGATE_URL},
    *_good(3),
    {"code": "900", "title": "first of two", "external_id": "wire-1"},
    {"code": "901", "title": "second of two", "external_id": "wire-1"},
    {"code": "902", "title": "taken elsewhere", "external_id": "held"},
    *_good(4),
]
GOOD_TITLES = {r["title"] for r in RECORDS if r["title"].startswith("good")} | {"first of two"}


def _expect_bad_records_reported(done, at) -> None:
    """`at(n)`: the location of record n as the CLI prints it."""
    assert done.exit_code == 1, done.output
    assert "imported 13, updated 0, unchanged 0, failed 4" in done.output
    lines = done.output.splitlines()
    for expected in (
        f"{at(4)}: published_at: must be from {DATE_RANGE}",
        f"{at(8)}: url: contains a lone surrogate, which is not valid text",
        f"{at(13)}: external_id: duplicate external_id (story 900 already has it)",
        f"{at(14)}: external_id: duplicate external_id (story 1000000 already has it)",
    ):
        assert expected in lines, done.output
    assert "code: already exists" not in done.output
    assert "Traceback" not in done.output


def test_jsonl_bad_records_are_skipped_and_the_rest_stored(invoke, rt, tmp_path):
    _stored_before(rt)
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    done = invoke("import", str(path))
    _expect_bad_records_reported(done, lambda n: f"{path}:{n}")
    assert _titles(rt) == GOOD_TITLES | {"Already here"}


def test_json_array_bad_records_are_skipped_and_the_rest_stored(invoke, rt, tmp_path):
    _stored_before(rt)
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    done = invoke("import", str(path))
    _expect_bad_records_reported(done, lambda n: f"{path}: record {n}")
    assert _titles(rt) == GOOD_TITLES | {"Already here"}


def test_url_import_shares_the_path(invoke, rt, tmp_path, http_server):
    _stored_before(rt)
    # The surrogate travels as a JSON escape, as any JSON encoder writes it.
    body = ("\n".join(json.dumps(r) for r in RECORDS) + "\n").encode("ascii")
    http_server.routes["/wire.jsonl"] = (200, "application/x-ndjson", body)
    url = http_server.url("/wire.jsonl")
    invoke.env["SYNDICATION_OUTBOUND_ALLOW"] = "127.0.0.1"
    done = invoke("import", url)
    _expect_bad_records_reported(done, lambda n: f"{url}:{n}")
    assert _titles(rt) == GOOD_TITLES | {"Already here"}


def test_text_export_bad_articles_are_skipped(invoke, rt, tmp_path):
    article = "{title}\n{date}\nDesk - A lead.\nA paragraph.\nStory Code: {code}\n"
    parts = [
        article.format(title="Good one", date="14 Feb 2025 09:10", code="31").encode(),
        article.format(title="Year one", date="1 Jan 0001 00:00", code="32").encode(),
        # An encoded surrogate (ED A0 80) is not UTF-8: that article fails, not the file.
        article.format(title="Bad bytes", date="14 Feb 2025 09:10", code="33").encode()
        + b"News Link : https://wire.example/\xed\xa0\x80\n",
        article.format(title="Good two", date="15 Feb 2025 09:10", code="34").encode(),
        article.format(title="Twice", date="16 Feb 2025 09:10", code="34").encode(),
        article.format(title="Good three", date="17 Feb 2025 09:10", code="35").encode(),
    ]
    path = tmp_path / "export.txt"
    path.write_bytes(b"---\n".join(parts))
    # Etc/GMT-14 is UTC+14: year 1, hour 0 there is before the first instant UTC can hold.
    done = invoke("import", str(path), "--tz", "Etc/GMT-14")
    assert done.exit_code == 1, done.output
    # The same code twice in one import is the same story: the later article updates it.
    assert "imported 3, updated 1, unchanged 0, failed 2" in done.output
    assert f"{path}:7: line 8: date '1 Jan 0001 00:00' in Etc/GMT-14 is out of range" in (
        done.output
    )
    assert f"{path}:13: line 18: is not valid UTF-8 text" in done.output
    assert _titles(rt) == {"Good one", "Twice", "Good three"}


FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id>
<updated>2025-01-01T00:00:00Z</updated>
<entry><title>good one</title><id>urn:1</id><link href="https://wire.example/1"/><updated>2025-01-01T00:00:00Z</updated></entry>
<entry><title>year one</title><id>urn:2</id><link href="https://wire.example/2"/><updated>2025-01-01T00:00:00Z</updated>
  <published>0001-01-01T00:00:00+14:00</published></entry>
<entry><title>good two</title><id>urn:3</id><link href="https://wire.example/3"/><updated>2025-01-01T00:00:00Z</updated></entry>
<entry><title>odd &#xD800; title</title><id>urn:4</id><updated>2025-01-01T00:00:00Z</updated>
  <link href="https://wire.example/&#55296;"/></entry>
<entry><title>again</title><id>urn:1</id><link href="https://wire.example/1"/><updated>2025-01-01T00:00:00Z</updated></entry>
<entry><title>taken</title><id>held</id><updated>2025-01-01T00:00:00Z</updated>
  <link href="http://news.example.test/stories/77"/></entry>
<entry><title>good three</title><id>urn:5</id><link href="https://wire.example/5"/><updated>2025-01-01T00:00:00Z</updated></entry>
</feed>
"""


def test_feed_bad_items_are_skipped(invoke, rt, tmp_path):
    _stored_before(rt)
    path = tmp_path / "wire.atom"
    path.write_text(FEED, encoding="utf-8")
    done = invoke("import", str(path))
    assert done.exit_code == 1, done.output
    # A surrogate character reference is no reason to lose the feed: it reads as U+FFFD, which
    # plain text does not keep (a decoding error carries no text; the validator flags it).
    assert "imported 4, updated 1, unchanged 0, failed 2" in done.output
    assert f"{path}: item 2: published_at: date is out of range" in done.output
    assert f"{path}: item 6: external_id: duplicate external_id (story 1000000 already has it)" in (
        done.output
    )
    assert "Traceback" not in done.output
    assert _titles(rt) == {"Already here", "again", "good two", "odd title", "good three"}


def test_a_transaction_failing_as_a_whole_is_retried_record_by_record(rt):
    """Whatever breaks, and wherever (here: at commit), only the record that caused it fails."""

    def explode(session) -> None:
        titles = {getattr(o, "title", None) for o in session.identity_map.values()}
        if "explodes at commit" in titles:
            raise RuntimeError("refused at commit")

    rt.db.on_session_event("before_commit", explode)
    titles = ["a", "b", "explodes at commit", "c", "d"]
    records = [Record(f"f:{n}", {"title": t}) for n, t in enumerate(titles, start=1)]
    summary = import_records(rt.db, rt.settings, records, pause=0)
    assert summary.failures == [
        ("f:3", "could not be stored: RuntimeError: refused at commit")
    ]
    assert summary.counts["created"] == 4
    assert _titles(rt) == {"a", "b", "c", "d"}


def test_import_holds_no_write_lock_between_short_transactions(rt, db_url):
    """Structural stand-in for "an API write waits < 1 s during a big import": the import is
    paused between two of its transactions, and a write that refuses to wait (SQLite: no busy
    wait at all; PostgreSQL: lock_timeout 1 s, through the stories service) goes through.
    The bench (bench/import_while_writing.py) measures the waits."""
    records = [Record(f"f:{n}", {"title": f"story {n}"}) for n in range(1, 251)]
    paused, resume = threading.Event(), threading.Event()

    def on_record(record: Record, outcome: str) -> None:
        if record.location == "f:150":
            paused.set()
            resume.wait(30)

    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.update(
            summary=import_records(
                rt.db,
                rt.settings,
                records,
                batch_records=100,
                batch_seconds=None,
                pause=0,
                on_record=on_record,
            )
        )
    )
    worker.start()
    try:
        assert paused.wait(60)
        # Records are reported once their transaction committed: 200 are stored by now.
        assert len(_titles(rt)) == 200
        if rt.db.is_sqlite:
            path = db_url.split(":///", 1)[1]
            conn = sqlite3.connect(path, timeout=0, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")  # "database is locked" at once if anyone writes
            conn.execute("ROLLBACK")
            conn.close()
        with rt.db.write() as s:
            if not rt.db.is_sqlite:
                s.execute(text("SET LOCAL lock_timeout = '1s'"))
            create_story(s, rt.settings, {"title": "meanwhile"}, now=datetime.now(UTC))
    finally:
        resume.set()
        worker.join(60)
    summary = result["summary"]
    assert summary.transactions == 3 and summary.counts["created"] == 250
    assert "meanwhile" in _titles(rt)
