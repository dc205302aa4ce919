"""gzip hit vs identity hit vs nginx gzip_static on the same bytes, over HTTP, in ONE run.

    .venv/bin/python -m bench.feed_gzip                 # ~2 min, 3 interleaved rounds
    .venv/bin/python -m bench.feed_gzip --rounds 1      # ~40 s

What is measured (127.0.0.1, the same client for every column: wrk -t2 -c64, warm-up then a
fixed duration, rounds interleaved, median per column), on the demo archive's /feeds/all.rss
served by `syndication run --demo` (granian, 2 workers, a temporary SQLite instance):

1. requests/s of a gzip cache hit (wrk sends `Accept-Encoding: gzip`) vs an identity cache hit
   (no Accept-Encoding) on the same server: the gzip twin is made once, when the page is
   cached, so a hit only picks the other bytes. Target: gzip >= 0.9x identity.
2. nginx -w2 with `gzip_static on` serving the very same bytes: the service's identity body and
   the gzip body it sent (fetched with Accept-Encoding: gzip) written to a temp root as all.rss
   and all.rss.gz, loaded with the gzip request. The machine's limit for those bytes. Without
   nginx the script says "nginx not installed: `apt-get install nginx-light`" and runs the rest.
3. bytes on the wire of one response per column (status line + headers + body, counted on the
   socket), and the mean bytes per response wrk read under the load. Target: identity / gzip
   >= 4.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import re
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

from bench.http_harness import (
    HOST,
    LoadSpec,
    Server,
    bench_env,
    fmt_ratio,
    format_table,
    free_port,
    nginx_binary,
    nginx_static,
    run_wrk,
    venv_tool,
)

PATH = "/feeds/all.rss"
GZIP = "Accept-Encoding: gzip"


def fetch(url: str, accept_encoding: str | None) -> tuple[int, Message, bytes]:
    """One GET; the body as it came over the wire (urllib never decodes a content coding)."""
    headers = {"User-Agent": "bench-feed-gzip"}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        return response.status, response.headers, response.read()  # names in any case


def check(url: str, accept_encoding: str | None, expected: bytes, coding: str | None) -> None:
    status, headers, body = fetch(url, accept_encoding)
    if status != 200 or body != expected or headers.get("Content-Encoding") != coding:
        raise AssertionError(
            f"GET {url} ({accept_encoding}): {status}, {len(body)} B, "
            f"Content-Encoding {headers.get('Content-Encoding')!r}; expected {len(expected)} B"
        )
    if int(headers["Content-Length"]) != len(body):
        length = headers["Content-Length"]
        raise AssertionError(f"GET {url}: Content-Length {length} != {len(body)} B on the wire")


def nginx_missing() -> str | None:
    """None when nginx can run, else the line that says how to get it."""
    try:
        nginx_binary()
    except FileNotFoundError:
        return "nginx not installed: `apt-get install nginx-light`"
    return None


def on_wire(url: str, accept_encoding: str | None) -> tuple[int, int]:
    """(status line + headers, body) in bytes, as one keep-alive response arrives on the socket:
    the request is the one wrk sends (HTTP/1.1, Host, the optional Accept-Encoding)."""
    parts = urlsplit(url)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    if accept_encoding is not None:
        lines.append(f"Accept-Encoding: {accept_encoding}")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"GET {url}: connection closed inside the headers")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"^content-length:\s*(\d+)", head, re.IGNORECASE | re.MULTILINE)
        if length is None:
            raise AssertionError(f"GET {url}: no Content-Length")
        while len(body) < int(length.group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"GET {url}: connection closed inside the body")
            body += chunk
    return len(head) + 4, len(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; median reported")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = ap.parse_args(argv)
    identity_spec = LoadSpec(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
    )
    gzip_spec = LoadSpec(**{**identity_spec.__dict__, "headers": (GZIP,)})
    missing = nginx_missing()
    if missing:
        print(missing, "- the nginx gzip_static column is skipped", flush=True)

    labels = {
        "identity": "identity hit, `syndication run`",
        "gzip": "gzip hit, `syndication run`",
        "nginx": "nginx -w2 gzip_static, same .gz",
    }
    keys = ["identity", "gzip"] + ([] if missing else ["nginx"])
    runs: dict[str, list[float]] = {k: [] for k in keys}
    load_bytes: dict[str, list[float]] = {k: [] for k in keys}
    wire: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gzip-") as tmp, contextlib.ExitStack() as stack:
        port = free_port()
        env = bench_env(
            {
                "SYNDICATION_DATABASE_URL": f"sqlite:///{Path(tmp) / 'syndication.db'}",
                "SYNDICATION_BASE_URL": f"http://{HOST}:{port}",
                "SYNDICATION_WORKERS": "2",  # the same on any machine
            }
        )
        argv_run = [venv_tool("syndication"), "run", "--demo", "--host", HOST, "--port", str(port)]
        srv = stack.enter_context(
            Server("syndication run --demo", argv_run, port, ready_path=PATH, env=env)
        )
        time.sleep(1.0)  # every worker booted (see bench/http_cache_hit.py)
        urls = {"identity": srv.url(PATH), "gzip": srv.url(PATH)}
        _, _, identity = fetch(urls["identity"], None)
        _, headers, coded = fetch(urls["gzip"], "gzip")
        if headers.get("Content-Encoding") != "gzip" or gzip.decompress(coded) != identity:
            raise AssertionError(f"not the identity body gzip-coded: {dict(headers)}")
        # Both workers have the page cached (each renders on its first miss) and answer
        # byte for byte the same: checked a few times over, as requests spread over them.
        for _ in range(4):
            check(urls["identity"], None, identity, None)
            check(urls["gzip"], "gzip", coded, "gzip")
        wire["identity"] = on_wire(urls["identity"], None)
        wire["gzip"] = on_wire(urls["gzip"], "gzip")
        if not missing:
            # The service's own bytes, written as all.rss and all.rss.gz: nginx sends the very
            # bytes our gzip hit sends, so the columns differ only in the server.
            ngx = stack.enter_context(nginx_static(identity, url_path="/all.rss", gzipped=coded))
            urls["nginx"] = ngx.url("/all.rss")
            check(urls["nginx"], "gzip", coded, "gzip")
            check(urls["nginx"], None, identity, None)
            wire["nginx"] = on_wire(urls["nginx"], "gzip")
        print(
            f"GET {PATH}: identity {len(identity)} B, gzip {len(coded)} B; "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
            f"(+{args.warmup:g}s warm-up) for every column, {args.rounds} round(s) interleaved, "
            f"median; {os.cpu_count()} CPUs, load average {load_average()} before",
            flush=True,
        )
        for rnd in range(args.rounds):
            for key in keys:
                res = run_wrk(urls[key], identity_spec if key == "identity" else gzip_spec)
                if not res.ok:
                    print(f"  !! {key}: non-2xx={res.non_2xx} errors={res.socket_errors}")
                runs[key].append(res.rps)
                load_bytes[key].append(res.bytes_per_response)
                print(
                    f"  [{rnd + 1}] {labels[key]:<34} {res.rps:>9.0f} req/s"
                    f"  {res.bytes_per_response:>8.0f} B/response",
                    flush=True,
                )
    print(f"load average {load_average()} after")

    med = {k: statistics.median(v) for k, v in runs.items()}
    rows = []
    for key in keys:
        head, body = wire[key]
        rows.append(
            (
                labels[key],
                f"{med[key]:.0f}",
                " ".join(f"{r:.0f}" for r in runs[key]),
                f"{head + body}",
                f"{head}",
                f"{body}",
                f"{statistics.median(load_bytes[key]):.0f}",
            )
        )
    print()
    print(
        format_table(
            ["column", "req/s", "per round", "wire B", "headers", "body", "B/resp under load"],
            rows,
        )
    )
    ratio = med["gzip"] / med["identity"]
    shrink = sum(wire["identity"]) / sum(wire["gzip"])
    print()
    print(
        f"gzip hit / identity hit: {ratio:.2f}x req/s (target >= 0.90x: "
        + ("PASS" if ratio >= 0.9 else "FAIL")
        + f"; per round {per_round(runs['gzip'], runs['identity'])})"
    )
    print(
        f"bytes on the wire, identity hit / gzip hit: {sum(wire['identity'])} / "
        f"{sum(wire['gzip'])} B = /{shrink:.1f} (body alone /{len(identity) / len(coded):.1f}; "
        "target /4: " + ("PASS" if shrink >= 4 else "FAIL") + ")"
    )
    if missing:
        print(f"gzip hit / nginx gzip_static: not measured, {missing}")
    else:
        print(
            f"gzip hit / nginx gzip_static: {fmt_ratio(med['gzip'], med['nginx'])} req/s "
            f"(per round {per_round(runs['gzip'], runs['nginx'])})"
        )
    return 0  # a benchmark, not a test: PASS/FAIL is information


def per_round(num: list[float], den: list[float]) -> str:
    return " ".join(fmt_ratio(n, d) for n, d in zip(num, den, strict=True))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
