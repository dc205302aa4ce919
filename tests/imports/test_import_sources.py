"""read_source itself: files, URLs over real HTTP, and inputs that are not stories at all."""

from __future__ import annotations

import socket

from .import_helpers import DATA, read_all


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    assert [(r.location, r.data, r.error) for r in read_all(path)] == [
        (str(path), None, "file not found")
    ]


def test_directory(tmp_path):
    [record] = read_all(tmp_path)
    assert record.error == "is a directory, not a file"


def test_empty_and_blank_files(tmp_path):
    for name, content in [
        ("empty.txt", b""),
        ("blank.json", b"\xef\xbb\xbf \n\r\n"),
        ("e.jsonl", b"\n"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        assert [(r.data, r.error) for r in read_all(path)] == [(None, "is empty")]


def test_empty_json_array_is_no_stories(tmp_path):
    path = tmp_path / "none.json"
    path.write_text("[]", encoding="utf-8")
    assert read_all(path) == []


def test_binary_garbage(tmp_path):
    png = tmp_path / "photo.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"title": "Café"}'.encode("latin-1"))
    assert read_all(png)[0].error == "looks like binary data, not UTF-8 text"
    assert read_all(latin1)[0].error == "is not valid UTF-8 text (bad byte at offset 14)"


def test_oversized_file(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes((DATA / "harbour.txt").read_bytes())
    size = path.stat().st_size
    assert read_all(path, max_bytes=size)[0].data is not None
    [record] = read_all(path, max_bytes=size - 1)
    assert record.data is None and record.error.startswith("is larger than the ")


def test_html_page_is_refused(tmp_path):
    path = tmp_path / "page"
    path.write_text("<!DOCTYPE html><html><body>Hi</body></html>", encoding="utf-8")
    assert read_all(path)[0].error == "looks like an HTML page, not a feed or an article export"


def test_url_feed_over_http(http_server):
    http_server.routes["/feed.rss"] = (200, "application/rss+xml", (DATA / "feed.rss").read_bytes())
    url = http_server.url("/feed.rss")
    records = read_all(url, own_base="https://herald.example")
    assert [r.location for r in records] == [f"{url}: item {n}" for n in (1, 2, 3)]
    assert records[0].data["code"] == "2204117"


def test_url_kinds_detected_from_path_and_content(http_server):
    http_server.routes["/s.jsonl"] = (200, "application/x-ndjson", b'{"title": "J"}\n')
    http_server.routes["/export"] = (200, "text/plain", (DATA / "harbour.txt").read_bytes())
    http_server.routes["/atom"] = (200, "application/atom+xml", (DATA / "feed.atom").read_bytes())
    assert read_all(http_server.url("/s.jsonl"))[0].data == {"title": "J"}
    assert read_all(http_server.url("/export"))[0].data["code"] == "2204117"
    assert read_all(http_server.url("/atom"))[0].data["source"] == "Le Courrier"


def test_url_404(http_server):
    url = http_server.url("/missing.xml")
    assert [(r.location, r.data, r.error) for r in read_all(url)] == [
        (url, None, "HTTP 404 Not Found")
    ]


def test_url_connection_refused():
    # A port that was just free: nothing listens there, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [record] = read_all(f"http://127.0.0.1:{port}/feed.xml")
    assert record.data is None
    assert record.error == f"cannot connect to 127.0.0.1:{port}: connection refused"


def test_url_to_a_private_address_is_refused_unless_allowed(http_server):
    """A URL import goes through the outbound client: without outbound_allow, this machine's
    own server is a private address like any other, and hostile URLs are refused before any
    connection."""
    from syndication.outbound import OutboundPolicy

    http_server.routes["/feed.rss"] = (200, "application/rss+xml", (DATA / "feed.rss").read_bytes())
    strict = OutboundPolicy()
    [record] = read_all(http_server.url("/feed.rss"), policy=strict)
    assert record.data is None and "loopback" in record.error
    port = http_server.url("/").split(":")[2].split("/")[0]
    for hostile in (
        f"http://127.0.0.1:{port}\\@example.com/feed.rss",
        f"http://127.1:{port}/feed.rss",
        f"http://user:pw@127.0.0.1:{port}/feed.rss",
    ):
        [record] = read_all(hostile)
        assert record.data is None and record.error, hostile
    assert len(read_all(http_server.url("/feed.rss"))) == 3


def test_url_oversized_body(http_server):
    http_server.routes["/big.json"] = (200, "application/json", b'[{"title": "x"}]' + b" " * 4096)
    [record] = read_all(http_server.url("/big.json"), max_bytes=1024)
    assert record.error == "is larger than the 1 KiB limit"


def test_custom_fetch_and_its_errors():
    body = (DATA / "stories.json").read_bytes()
    assert len(read_all("https://example.invalid/x.json", fetch=lambda url: body)) == 2

    def failing(url: str) -> bytes:
        raise ConnectionResetError(104, "Connection reset by peer")

    assert (
        read_all("https://example.invalid/x.json", fetch=failing)[0].error
        == "Connection reset by peer"
    )
    assert read_all("https://example.invalid/x.json", fetch=lambda url: body, max_bytes=10)[
        0
    ].error == ("is larger than the 10 bytes limit")


def test_only_http_urls():
    [record] = read_all("file:///etc/passwd")
    assert record.error == "unsupported URL scheme 'file' (only http and https)"
