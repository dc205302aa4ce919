"""A real feed reader imports /feeds.opml: Debian's newsboat (installed by .ci/run) imports the
list, fetches every feed from the service over HTTP on 127.0.0.1 (the Flask app in a werkzeug
server, on SQLite and PostgreSQL) and files every channel's items under that channel.

newsboat runs non-interactively (-i to import, -x reload), with its own HOME, config, URL file
and cache in a temporary folder; its cache (SQLite) is then read directly. Every newsboat run is
bounded by a timeout, and the test is skipped where newsboat is not installed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_settings
from tests.storyfactory import NOW, add_channel, add_story

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed")
HOSTILE_TITLE = "Hostile & <Tests>"
# slug -> (title, filter, formats); "all" shares every story with the others.
CHANNELS = {
    "world": ("World", {"sections": ["World"]}, ["rss", "atom", "json"]),
    "sport": ("Sport", {"sections": ["Sport"]}, ["rss", "atom", "json"]),
    "hostile": (HOSTILE_TITLE, {"tags": ["hostile"]}, ["rss", "atom", "json"]),
    "json-only": ("JSON only", {"sections": ["Tech"]}, ["json", "atom"]),
}
STORIES = [  # code, section, tags: each channel has a story of its own, w2 is in two
    ("w1", "World", []),
    ("w2", "World", ["hostile"]),
    ("h1", "Opinion", ["hostile"]),
    ("s1", "Sport", []),
    ("s2", "Sport", []),
    ("t1", "Tech", []),
]


class _Server:
    """A werkzeug server on 127.0.0.1 whose app is set once its port (the base URL) is known."""

    def __init__(self) -> None:
        self.app = None
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _wsgi(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)


@pytest.fixture
def server():
    server = _Server()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def settings(db_url, tmp_path, server):
    return make_settings(db_url, tmp_path, base_url=server.base)


@pytest.fixture
def newsroom(app, rt, server):
    server.app = app
    for slug, (title, filter_, formats) in CHANNELS.items():
        add_channel(
            rt,
            {"slug": slug, "title": title, "filter": filter_, "formats": formats},
            now=NOW - timedelta(days=1),
        )
    for n, (code, section, tags) in enumerate(STORIES):
        when = NOW - timedelta(hours=n + 1)
        add_story(
            rt,
            {
                "code": code,
                "title": f"Story {code}",
                "summary": f"About {code}.",
                "section": section,
                "tags": tags,
                "published_at": when,
            },
            now=when,
        )
    return server


def _newsboat(home, *args: str) -> subprocess.CompletedProcess:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        # Straight to 127.0.0.1, whatever proxy the machine has.
        "no_proxy": "*",
        "NO_PROXY": "*",
    }
    files = ["-C", str(home / "config"), "-u", str(home / "urls"), "-c", str(home / "cache.db")]
    return subprocess.run(
        [NEWSBOAT, *files, *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _import_and_reload(client, tmp_path, query: str) -> tuple[list[str], dict[str, set[str]]]:
    """newsboat imports /feeds.opml<query> and reloads: the URL lines it subscribed to, and
    the item titles it filed under each feed URL."""
    home = tmp_path / "newsboat"
    home.mkdir()
    # No reloads in parallel threads racing each other, no HTML rendering programs needed.
    (home / "config").write_text("reload-threads 1\nsuppress-first-reload yes\n")
    (home / "urls").write_text("")
    response = client.get("/feeds.opml" + query)
    assert response.status_code == 200
    opml = home / "feeds.opml"
    opml.write_bytes(response.data)
    done = _newsboat(home, "-i", str(opml))
    assert done.returncode == 0, done.stdout + done.stderr
    urls = [
        line.split()[0]
        for line in (home / "urls").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    done = _newsboat(home, "-x", "reload", "print-unread")
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(home / "cache.db") as db:
        rows = db.execute("SELECT feedurl, title FROM rss_item").fetchall()
        feeds = dict(db.execute("SELECT rssurl, title FROM rss_feed").fetchall())
    assert done.stdout.strip() == f"{len(rows)} unread articles", done.stdout
    items: dict[str, set[str]] = {}
    for feed, title in rows:
        items.setdefault(feed, set()).add(title)
    # The reader names each feed by the title in the feed itself, markup-like text and all.
    assert {title for url, title in feeds.items() if "/hostile." in url} == {HOSTILE_TITLE}
    return urls, items


@pytest.mark.parametrize("query", ["", "?format=atom"])
def test_newsboat_imports_one_subscription_per_channel_with_its_items(
    client, newsroom, tmp_path, query
):
    urls, items = _import_and_reload(client, tmp_path, query)
    base = newsroom.base
    fmt = query.removeprefix("?format=") or "rss"
    expected_urls = {
        slug: f"{base}/feeds/{slug}.{fmt if fmt in formats else 'atom'}"
        for slug, (_, _, formats) in CHANNELS.items()
    }
    assert sorted(urls) == sorted(expected_urls.values()), "one subscription per channel"
    assert set(items) == set(expected_urls.values()), "every feed fetched and parsed"
    expected_items = {
        "world": {"Story w1", "Story w2"},
        "sport": {"Story s1", "Story s2"},
        "hostile": {"Story w2", "Story h1"},
        "json-only": {"Story t1"},
    }
    for slug, url in expected_urls.items():
        # A story in two channels (w2) may be filed under either: newsboat keys items by guid.
        assert items[url] <= expected_items[slug] and items[url], (slug, items)
    assert set().union(*items.values()) == {f"Story {code}" for code, _, _ in STORIES}
