"""The `syndication` command end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from syndication.stories.service import get_story, story_to_dict

DATA = Path(__file__).parent / "imports" / "data"


def test_init_is_idempotent(invoke):
    assert invoke("init").exit_code == 0
    again = invoke("init")
    assert again.exit_code == 0 and "database ready" in again.output


def test_channel_add_list_remove(invoke):
    added = invoke(
        "channel",
        "add",
        "uk-sport",
        "--title",
        "UK Sport",
        "--section",
        "sport",
        "--language",
        "en-GB",
        "--tag",
        "football",
        "--tag",
        "rugby",
        "--limit",
        "20",
        "--content",
        "summary",
    )
    assert added.exit_code == 0, added.output
    assert "http://news.example.test/feeds/uk-sport.rss" in added.output
    listed = invoke("channel", "list")
    assert "uk-sport" in listed.output and "tags=football|rugby" in listed.output
    assert "en-GB" in listed.output
    dup = invoke("channel", "add", "uk-sport", "--title", "Again")
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad = invoke("channel", "add", "Bad Slug", "--title", "X")
    assert bad.exit_code == 1 and "slug:" in bad.output
    bad_limit = invoke("channel", "add", "x", "--title", "X", "--limit", "501")
    assert bad_limit.exit_code == 1 and "limit:" in bad_limit.output
    assert invoke("channel", "remove", "uk-sport").exit_code == 0
    missing = invoke("channel", "remove", "uk-sport")
    assert missing.exit_code == 1 and "no channel" in missing.output


def test_feed_language_declares_when_filter_does_not(invoke, app, client):
    invoke("channel", "add", "mixed", "--title", "Mixed", "--feed-language", "fr")
    invoke(
        "channel", "add", "arabic", "--title", "Arabic", "--language", "ar", "--feed-language", "fr"
    )
    assert feedparser.parse(client.get("/feeds/mixed.rss").data).feed.language == "fr"
    assert feedparser.parse(client.get("/feeds/arabic.rss").data).feed.language == "ar"


def test_import_text_export_as_printed(invoke, rt):
    done = invoke("import", str(DATA / "harbour.txt"), "--publish")
    assert done.exit_code == 0, done.output
    assert "imported 1, updated 0, unchanged 0, failed 0" in done.output
    with rt.db.read() as s:
        story = get_story(s, "2204117")
        assert story.title == "Harbour Bridge Reopens After Repairs"
        assert story.source == "Coastal Herald"
        assert story.summary.startswith("The harbour bridge reopened")
        assert story.status == "published"
        # 09:10 in London in February is 09:10 UTC
        assert story.published_at == datetime(2025, 2, 14, 9, 10, tzinfo=UTC)
    again = invoke("import", str(DATA / "harbour.txt"), "--publish")
    assert "imported 0, updated 0, unchanged 1, failed 0" in again.output


def test_import_without_publish_gives_drafts(invoke, rt):
    invoke("import", str(DATA / "several.txt"))
    with rt.db.read() as s:
        from sqlalchemy import select

        from syndication.models import Story

        statuses = set(s.scalars(select(Story.status)))
    assert statuses == {"draft"}


@pytest.mark.parametrize(
    "name", ["stories.json", "stories.jsonl", "feed.rss", "feed.atom", "several.txt", "arabic.txt"]
)
def test_each_source_kind_imports_and_reimports_idempotently(invoke, name):
    # stories.jsonl and several.txt hold deliberately broken records among good ones.
    first = invoke("import", str(DATA / name), "--publish")
    count = int(first.output.split("imported ")[1].split(",")[0])
    failed = int(first.output.split("failed ")[1].split()[0])
    assert count >= 1
    assert first.exit_code == (1 if failed else 0), first.output
    again = invoke("import", str(DATA / name), "--publish")
    assert f"imported 0, updated 0, unchanged {count}, failed {failed}" in again.output


def test_mixed_good_and_bad_records(invoke, rt):
    done = invoke("import", str(DATA / "mixed.json"), str(DATA / "missing.json"))
    assert done.exit_code == 1
    assert "imported 2, updated 0, unchanged 0, failed 3" in done.output
    assert "mixed.json: record 2" in done.output
    assert "missing.json" in done.output


def test_invalid_story_is_reported_with_location_and_reason(invoke, tmp_path, rt):
    path = tmp_path / "bad.jsonl"
    lines = [
        {"code": "11", "title": "Fine"},
        {"code": "12", "title": "Bad date", "published_at": "2025-01-01T10:00:00"},
        {"code": "13", "title": "", "url": "javascript:x"},
        {"code": "11", "title": "Fine"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    done = invoke("import", str(path))
    assert done.exit_code == 1
    assert f"{path}:2: published_at: must include a time zone offset" in done.output
    assert f"{path}:3: title: must not be empty; url:" in done.output
    assert f"{path}:5: invalid JSON" in done.output
    assert "imported 1, updated 0, unchanged 1, failed 3" in done.output
    with rt.db.read() as s:
        assert story_to_dict(get_story(s, "11"), rt.settings)["title"] == "Fine"


def test_unknown_tz_is_refused(invoke):
    done = invoke("import", str(DATA / "harbour.txt"), "--tz", "Mars/Base")
    assert done.exit_code == 2 and "unknown time zone" in done.output


def test_import_from_url(invoke, tmp_path, rt):
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = lambda *a, **k: SimpleHTTPRequestHandler(*a, directory=str(DATA), **k)  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/feed.rss"
        # Through the outbound client: this machine is a private address like any other...
        refused = invoke("import", url, "--source", "Wire")
        assert refused.exit_code == 1 and "loopback" in refused.output, refused.output
        hostile = invoke("import", url.replace("127.0.0.1", "127.0.0.1\\.wire.example"))
        assert hostile.exit_code == 1 and "backslash" in hostile.output, hostile.output
        # ...until outbound_allow lets it be called.
        invoke.env["SYNDICATION_OUTBOUND_ALLOW"] = "127.0.0.1"
        done = invoke("import", url, "--source", "Wire")
        assert done.exit_code == 0, done.output
        gone = invoke("import", f"http://127.0.0.1:{server.server_port}/nope.rss")
        assert gone.exit_code == 1 and "404" in gone.output
    finally:
        server.shutdown()


def test_concurrent_imports_and_server_writes_never_hit_database_is_locked(invoke, tmp_path, rt):
    """Two import processes and an in-process writer on the same database at once."""
    files = []
    for n in range(2):
        path = tmp_path / f"batch{n}.jsonl"
        path.write_text(
            "".join(
                json.dumps(
                    {
                        "code": f"{n}-{i}",
                        "title": f"Story {n}/{i}",
                        "status": "published",
                        "tags": ["load"],
                        "body_html": "<p>x</p>" * 20,
                    }
                )
                + "\n"
                for i in range(400)
            )
        )
        files.append(path)
    env = {**os.environ, **invoke.env}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "syndication", "import", str(p)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in files
    ]
    from syndication.stories.service import create_story

    for i in range(100):  # the "server": short write transactions meanwhile
        with rt.db.write() as s:
            create_story(
                s, rt.settings, {"title": f"live {i}", "status": "published"}, now=datetime.now(UTC)
            )
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err
        assert "imported 400, updated 0, unchanged 0, failed 0" in out


def test_our_own_feed_round_trips_and_another_sites_cannot_overwrite(invoke, rt, client, tmp_path):
    """Importing our feed updates our stories by code; a foreign feed linking to
    <elsewhere>/stories/<our code> makes a story of its own and leaves ours alone."""
    from syndication.channels.service import create_channel
    from syndication.clock import utcnow
    from syndication.stories.service import create_story

    with rt.db.write() as s:
        create_channel(s, {"slug": "all", "title": "All"}, now=utcnow())
        create_story(
            s, rt.settings, {"code": "4242", "title": "Ours", "status": "published"}, now=utcnow()
        )
    feed = client.get("/feeds/all.rss").data.replace(
        b"<title>Ours</title>", b"<title>Ours v2</title>"
    )
    ours = tmp_path / "ours.rss"
    ours.write_bytes(feed)
    done = invoke("import", str(ours))
    assert "imported 0, updated 1, unchanged 0, failed 0" in done.output, done.output
    foreign = tmp_path / "foreign.rss"
    foreign.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Elsewhere</title>'
        b"<link>https://elsewhere.example/</link><description>d</description><item>"
        b"<title>Not yours</title><link>https://elsewhere.example/stories/4242</link>"
        b"</item></channel></rss>"
    )
    done = invoke("import", str(foreign))
    assert "imported 1, updated 0, unchanged 0, failed 0" in done.output, done.output
    with rt.db.read() as s:
        assert get_story(s, "4242").title == "Ours v2"
