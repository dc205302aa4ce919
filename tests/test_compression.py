"""gzip for feeds, OPML and HTML pages, on SQLite and PostgreSQL, through a real HTTP server on
127.0.0.1 with real clients: feedparser (which sends Accept-Encoding: gzip, deflate), requests
with and without gzip, urllib (which sends no Accept-Encoding at all).

What is checked: the gzip twin is made once per cached page and counted in the cache's bytes;
`Vary: Accept-Encoding`; a strong ETag per encoding and a 304 per encoding; Content-Length equal
to the bytes on the wire; HEAD; q-values; and the WSGI fast path answering like the Flask route.
"""

from __future__ import annotations

import gzip
import os
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import feedparser
import pytest
import requests
from werkzeug.serving import make_server

from syndication.channels.cache import Page
from syndication.compression import MIN_BYTES, accepts_gzip, gzip_body
from tests.servers import free_port, start_run, stop_run
from tests.storyfactory import NOW, add_channel, add_story

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
FEEDS = ("/feeds/world.rss", "/feeds/world.atom", "/feeds/world.json")
PAGES = ("/", "/channels/world", "/stories/story-0")


def fill(rt) -> None:
    """Channel 'world' with a dozen stories."""
    add_channel(rt, {"slug": "world", "title": "World & <News>"}, now=NOW - timedelta(days=1))
    for i in range(12):
        add_story(
            rt,
            {
                "code": f"story-{i}",
                "title": f"Story {i}: rain over the harbour",
                "summary": "A summary that repeats, as news does. " * 3,
                "body_html": "<p>Paragraph of the story, with some words.</p>" * 10,
                "published_at": NOW - timedelta(hours=i + 1),
            },
            now=NOW - timedelta(hours=i + 1),
        )


@pytest.fixture
def server(app, rt) -> Iterator[str]:
    """The whole app (fast paths included) served by werkzeug on 127.0.0.1, over `fill`."""
    fill(rt)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()


def wire(url: str, headers: dict[str, str], method: str = "GET") -> requests.Response:
    """The response with its body exactly as sent (not decoded), in `.wire`."""
    response = requests.request(method, url, headers=headers, stream=True, timeout=10)
    response.wire = response.raw.read(decode_content=False)  # type: ignore[attr-defined]
    # A streamed response holds its connection until closed: left open, it would keep the
    # server's graceful shutdown waiting at the end of a test.
    response.close()
    return response


def quoted(etag: str) -> str:
    return etag.strip('"')


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("gzip, deflate", True),
        ("GZIP;Q=0.5", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip ; q=0.000", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("br", False),
        ("identity", False),
        ("gzip;q=0.5, identity", False),  # the client ranks identity higher
        ("gzip;q=0.5, identity;q=0.4", True),
        ("gzip;q=nope", False),  # a malformed member counts as absent
        ("gzip;q=2", False),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
    ],
)
def test_accept_encoding_q_values(header, takes):
    assert accepts_gzip(header) is takes


def test_gzip_is_deterministic_and_skips_small_bodies():
    body = b"<rss>" + b"<item>same words again</item>" * 100 + b"</rss>"
    assert gzip_body(body) == gzip_body(body)  # no timestamp: one strong ETag on every worker
    assert gzip.decompress(gzip_body(body)) == body
    assert gzip_body(b"x" * (MIN_BYTES - 1)) is None
    small = Page.make(b"tiny", "abc", NOW, "text/plain", [])
    assert small.gzipped is None and small.for_encoding("gzip") is small
    assert ("Vary", "Accept-Encoding") in small.headers
    bare = Page.make(body, "abc", NOW, "text/plain", [], compress=False)
    assert bare.gzipped is None and ("Vary", "Accept-Encoding") not in bare.headers


@pytest.mark.parametrize("path", FEEDS)
def test_feed_gzip_and_identity_with_an_etag_each(server, rt, path):
    url = server + path
    rt.pages.clear()
    coded = wire(url, GZIP)
    plain = wire(url, IDENTITY)
    assert coded.status_code == plain.status_code == 200
    assert coded.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    for r in (coded, plain):
        assert r.headers["Vary"] == "Accept-Encoding"
        assert int(r.headers["Content-Length"]) == len(r.wire)
    assert gzip.decompress(coded.wire) == plain.wire
    assert len(coded.wire) * 4 <= len(plain.wire)
    assert quoted(coded.headers["ETag"]) == quoted(plain.headers["ETag"]) + "-gz"
    assert coded.headers["Last-Modified"] == plain.headers["Last-Modified"]

    # The cache holds both codings, made once, and counts both.
    assert len(rt.pages) == 1
    assert rt.pages.nbytes > len(plain.wire) + len(coded.wire)

    # 304 per encoding: a tag matches only the representation it names.
    for headers, tag, status in (
        (GZIP, coded.headers["ETag"], 304),
        (IDENTITY, plain.headers["ETag"], 304),
        (GZIP, plain.headers["ETag"], 200),
        (IDENTITY, coded.headers["ETag"], 200),
    ):
        again = wire(url, {**headers, "If-None-Match": tag})
        assert again.status_code == status
        if status == 304:
            assert again.wire == b""
            assert again.headers["ETag"] == tag
            assert again.headers["Vary"] == "Accept-Encoding"
        else:
            assert again.headers["ETag"] != tag
            assert int(again.headers["Content-Length"]) == len(again.wire)

    # HEAD: the headers of the GET of the same encoding, no body.
    for headers, got in ((GZIP, coded), (IDENTITY, plain)):
        head = wire(url, headers, "HEAD")
        assert head.status_code == 200 and head.wire == b""
        assert head.headers["Content-Length"] == got.headers["Content-Length"]
        assert head.headers["ETag"] == got.headers["ETag"]


@pytest.mark.parametrize("path", FEEDS)
def test_fast_path_answers_like_the_route_in_both_encodings(server, rt, path):
    """A miss goes through the Flask route, a hit through the WSGI fast path: same bytes and
    headers (Date and Server aside) for each encoding, for 200 and 304."""

    def same(a: requests.Response, b: requests.Response) -> None:
        assert a.status_code == b.status_code
        assert a.wire == b.wire
        strip = {"Date", "Server", "Connection"}
        assert {k: v for k, v in a.headers.items() if k not in strip} == {
            k: v for k, v in b.headers.items() if k not in strip
        }

    url = server + path
    for headers in (GZIP, IDENTITY, {"Accept-Encoding": "gzip;q=0"}, {"Accept-Encoding": ""}):
        rt.pages.clear()
        miss = wire(url, headers)
        assert len(rt.pages) == 1
        hit = wire(url, headers)
        same(miss, hit)
        conditional = {**headers, "If-None-Match": hit.headers["ETag"]}
        rt.pages.clear()
        slow = wire(url, conditional)
        fast = wire(url, conditional)
        assert slow.status_code == 304
        same(slow, fast)
    assert "Content-Encoding" not in wire(url, {"Accept-Encoding": "gzip;q=0"}).headers


def test_feedparser_over_http_gets_gzip_and_revalidates(server, rt):
    url = server + "/feeds/world.rss"
    first = feedparser.parse(url)
    assert first.status == 200 and not first.bozo
    assert first.headers["content-encoding"] == "gzip"
    assert quoted(first.etag).endswith("-gz")
    assert [e.title for e in first.entries][:2] == [
        "Story 0: rain over the harbour",
        "Story 1: rain over the harbour",
    ]
    assert len(first.entries) == 12
    again = feedparser.parse(url, etag=first.etag)
    assert again.status == 304 and not again.entries
    # A story arrives: the tag changes, feedparser gets the new document.
    add_story(rt, {"code": "late", "title": "Late news"}, now=NOW)
    changed = feedparser.parse(url, etag=first.etag)
    assert changed.status == 200 and changed.entries[0].title == "Late news"
    assert changed.etag != first.etag


def test_urllib_without_accept_encoding_gets_identity(server):
    with urllib.request.urlopen(server + "/feeds/world.atom", timeout=10) as r:
        body = r.read()
        assert r.headers["Content-Encoding"] is None
        assert r.headers["Vary"] == "Accept-Encoding"
        assert int(r.headers["Content-Length"]) == len(body)
    request = urllib.request.Request(server + "/feeds/world.atom", headers=GZIP)
    with urllib.request.urlopen(request, timeout=10) as r:
        coded = r.read()
        assert r.headers["Content-Encoding"] == "gzip"
        assert int(r.headers["Content-Length"]) == len(coded)
    assert gzip.decompress(coded) == body


def test_opml_gzip_with_an_etag_and_a_304_per_encoding(server):
    url = server + "/feeds.opml"
    coded = wire(url, GZIP)
    plain = wire(url, IDENTITY)
    assert coded.status_code == plain.status_code == 200
    assert coded.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(coded.wire) == plain.wire
    for r in (coded, plain):
        assert r.headers["Vary"] == "Accept-Encoding"
        assert int(r.headers["Content-Length"]) == len(r.wire)
    assert quoted(coded.headers["ETag"]) == quoted(plain.headers["ETag"]) + "-gz"
    assert wire(url, {**GZIP, "If-None-Match": coded.headers["ETag"]}).status_code == 304
    assert wire(url, {**IDENTITY, "If-None-Match": plain.headers["ETag"]}).status_code == 304
    assert wire(url, {**GZIP, "If-None-Match": plain.headers["ETag"]}).status_code == 200
    assert wire(url, {**IDENTITY, "If-None-Match": coded.headers["ETag"]}).status_code == 200
    head = wire(url, GZIP, "HEAD")
    assert head.wire == b"" and head.headers["Content-Length"] == coded.headers["Content-Length"]


@pytest.mark.parametrize("path", [*PAGES, "/stories/nope"])
def test_html_pages_gzip(server, path):
    url = server + path
    coded = wire(url, {"Accept-Encoding": "gzip, deflate, br"})
    plain = wire(url, IDENTITY)
    assert coded.status_code == plain.status_code == (404 if path.endswith("nope") else 200)
    assert coded.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(coded.wire) == plain.wire
    for r in (coded, plain):
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.headers["Vary"] == "Accept-Encoding"
        assert int(r.headers["Content-Length"]) == len(r.wire)
    head = wire(url, GZIP, "HEAD")
    assert head.wire == b"" and head.headers["Content-Encoding"] == "gzip"
    assert head.headers["Content-Length"] == coded.headers["Content-Length"]


def test_admin_and_api_are_never_compressed(server):
    """Pages that can hold a secret beside reflected input stay identity (BREACH)."""
    for path in ("/admin/login", "/api/v1/stories"):
        r = wire(server + path, GZIP)
        assert "Content-Encoding" not in r.headers


def test_syndication_run_serves_gzip_like_the_test_server(db_url, tmp_path, rt):
    """The production server (granian, two workers, each with its own cache): the same codings,
    ETags, 304s and lengths on the wire, HEAD included."""
    fill(rt)
    port = free_port()
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "run-instance"),
        "SYNDICATION_WORKERS": "2",
    }
    proc = start_run(env, port)
    try:
        url = f"http://127.0.0.1:{port}/feeds/world.rss"
        for _ in range(3):  # a few times: requests spread over both workers, misses and hits
            coded = wire(url, GZIP)
            plain = wire(url, IDENTITY)
            assert coded.headers["Content-Encoding"] == "gzip"
            assert "Content-Encoding" not in plain.headers
            assert gzip.decompress(coded.wire) == plain.wire
            for r in (coded, plain):
                assert r.headers["Vary"] == "Accept-Encoding"
                assert int(r.headers["Content-Length"]) == len(r.wire)
            assert quoted(coded.headers["ETag"]) == quoted(plain.headers["ETag"]) + "-gz"
            assert wire(url, {**GZIP, "If-None-Match": coded.headers["ETag"]}).status_code == 304
            assert wire(url, {**GZIP, "If-None-Match": plain.headers["ETag"]}).status_code == 200
            head = wire(url, GZIP, "HEAD")
            assert head.wire == b""
            assert head.headers["Content-Length"] == coded.headers["Content-Length"]
        parsed = feedparser.parse(url)
        assert parsed.status == 200 and len(parsed.entries) == 12
        assert parsed.headers["content-encoding"] == "gzip"
        assert feedparser.parse(url, etag=parsed.etag).status == 304
    finally:
        _, err = stop_run(proc)
    assert "Traceback" not in err, err
