"""Bare Flask app used as the *baseline* in the HTTP benchmarks.

It does the least a Flask view can do to serve a feed: return constant bytes
with the feed's Content-Type.  Whatever our app costs on top of this is the
price of its own code (routing is the same Flask routing).

The body is, in order of precedence:

* the file named by ``BENCH_BODY_FILE`` (so a benchmark can serve exactly the
  bytes our app produced for a cache hit), or
* a generated ~20 KB RSS 2.0 document (``make_rss_body``).

Routes (the same body on both, so a benchmark can hit the baseline on the
same path it hits our app on):

* ``/bytes`` and ``/feeds/<slug>.rss`` - the constant body;
* ``/slow?s=0.5`` - sleeps, then answers 200 (for graceful-shutdown checks).

WSGI targets: ``bench.bare_app:app`` (module-level app) or the factory
``bench.bare_app:create_app``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from flask import Flask, Response, request

RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def make_rss_body(target_size: int = 20_000) -> bytes:
    """A valid-looking RSS 2.0 document of roughly ``target_size`` bytes."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "<channel>\n"
        "<title>Bench channel</title>\n"
        "<link>http://127.0.0.1/channels/bench</link>\n"
        "<description>Constant body for the bare Flask baseline</description>\n"
        '<atom:link href="http://127.0.0.1/feeds/bench.rss" rel="self"'
        ' type="application/rss+xml"/>\n'
        "<language>en</language>\n"
    )
    tail = "</channel>\n</rss>\n"
    items: list[str] = []
    size = len(head) + len(tail)
    i = 0
    while size < target_size:
        when = format_datetime(start + timedelta(hours=i))
        item = (
            "<item>\n"
            f"<title>Story number {i}: something happened somewhere</title>\n"
            f"<link>http://127.0.0.1/stories/{i}</link>\n"
            f'<guid isPermaLink="false">urn:bench:story:{i}</guid>\n'
            f"<pubDate>{when}</pubDate>\n"
            "<description>&lt;p&gt;Lorem ipsum dolor sit amet, consectetur adipiscing "
            "elit, sed do eiusmod tempor incididunt ut labore et dolore magna "
            "aliqua.&lt;/p&gt;</description>\n"
            "</item>\n"
        )
        items.append(item)
        size += len(item)
        i += 1
    return (head + "".join(items) + tail).encode("utf-8")


def load_body() -> bytes:
    path = os.environ.get("BENCH_BODY_FILE")
    if path:
        with open(path, "rb") as fh:
            return fh.read()
    return make_rss_body()


def create_app(body: bytes | None = None, content_type: str | None = None) -> Flask:
    body = load_body() if body is None else body
    content_type = content_type or os.environ.get("BENCH_CONTENT_TYPE") or RSS_CONTENT_TYPE
    app = Flask(__name__)

    @app.get("/bytes")
    def constant_bytes() -> Response:
        return Response(body, content_type=content_type)

    @app.get("/feeds/<slug>.rss")
    def constant_feed(slug: str) -> Response:
        return Response(body, content_type=content_type)

    @app.get("/slow")
    def slow() -> Response:
        time.sleep(float(request.args.get("s", "0.5")))
        return Response(b"done\n", content_type="text/plain")

    return app


app = create_app()
