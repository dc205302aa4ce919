"""gzip vs identity feed cache hits over HTTP, against the real `syndication run`, in ONE run.

    .venv/bin/python -m bench.feed_gzip                 # ~1.5 min, 3 interleaved rounds
    .venv/bin/python -m bench.feed_gzip --rounds 1      # ~30 s

What is measured (127.0.0.1, wrk -t2 -c64, warm-up then a fixed duration, rounds interleaved,
median per row), on the demo archive's /feeds/all.rss served by `syndication run --demo`
(granian, 2 workers, a temporary SQLite instance):

1. requests/s of a gzip cache hit (wrk sends `Accept-Encoding: gzip`) vs an identity cache hit
   (no Accept-Encoding) on the same server: the gzip twin is made once, when the page is
   cached, so a hit only picks the other bytes. Target: gzip >= 0.9x identity.
2. beside them, nginx -w2 with `gzip_static on` serving the very same compressed bytes (the
   machine's limit for those bytes), when nginx is installed; otherwise the row says so.
3. bytes on the wire of all.rss, identity vs gzip. Target: divided by 4 or better.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from email.message import Message
from pathlib import Path

from bench.http_harness import (
    HOST,
    LoadSpec,
    Server,
    bench_env,
    fmt_ratio,
    format_table,
    free_port,
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
    have_nginx = bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())

    runs: dict[str, list[float]] = {"identity": [], "gzip": [], "nginx": []}
    with tempfile.TemporaryDirectory(prefix="bench-gzip-") as tmp:
        port = free_port()
        env = bench_env(
            {
                "SYNDICATION_DATABASE_URL": f"sqlite:///{Path(tmp) / 'syndication.db'}",
                "SYNDICATION_BASE_URL": f"http://{HOST}:{port}",
                "SYNDICATION_WORKERS": "2",  # the same on any machine
            }
        )
        argv_run = [venv_tool("syndication"), "run", "--demo", "--host", HOST, "--port", str(port)]
        with Server("syndication run --demo", argv_run, port, ready_path=PATH, env=env) as srv:
            time.sleep(1.0)  # every worker booted (see bench/http_cache_hit.py)
            url = srv.url(PATH)
            _, _, identity = fetch(url, None)
            _, headers, coded = fetch(url, "gzip")
            if headers.get("Content-Encoding") != "gzip" or gzip.decompress(coded) != identity:
                raise AssertionError(f"not the identity body gzip-coded: {dict(headers)}")
            # Both workers have the page cached (each renders on its first miss) and answer
            # byte for byte the same: checked a few times over, as requests spread over them.
            for _ in range(4):
                check(url, None, identity, None)
                check(url, "gzip", coded, "gzip")
            print(
                f"GET {PATH}: identity {len(identity)} B, gzip {len(coded)} B; "
                f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
                f"(+{args.warmup:g}s warm-up), {args.rounds} round(s), median; "
                f"{os.cpu_count()} CPUs",
                flush=True,
            )
            for rnd in range(args.rounds):
                for key, spec in (("identity", identity_spec), ("gzip", gzip_spec)):
                    res = run_wrk(url, spec)
                    if not res.ok:
                        print(f"  !! {key}: non-2xx={res.non_2xx} errors={res.socket_errors}")
                    runs[key].append(res.rps)
                    label = f"{key} cache hit"
                    print(f"  [{rnd + 1}] {label:<28} {res.rps:>9.0f} req/s", flush=True)
                if have_nginx:
                    with nginx_static(identity, url_path="/all.rss", gzipped=coded) as ngx:
                        check(ngx.url("/all.rss"), "gzip", coded, "gzip")
                        res = run_wrk(ngx.url("/all.rss"), gzip_spec)
                    runs["nginx"].append(res.rps)
                    print(f"  [{rnd + 1}] {'nginx gzip_static':<28} {res.rps:>9.0f} req/s")

    med = {k: statistics.median(v) if v else float("nan") for k, v in runs.items()}
    ratio = med["gzip"] / med["identity"]
    shrink = len(identity) / len(coded)
    nginx_cell = f"{med['nginx']:.0f} req/s" if have_nginx else "nginx not installed, skipped"
    print()
    print(
        format_table(
            ["benchmark", "baseline", "ours", "ratio", "target"],
            [
                (
                    "req/s: identity hit -> gzip hit, `syndication run`",
                    f"{med['identity']:.0f}",
                    f"{med['gzip']:.0f}",
                    f"{ratio:.2f}x",
                    ">= 0.90x " + ("PASS" if ratio >= 0.9 else "FAIL"),
                ),
                (
                    f"bytes of {PATH}: identity -> gzip",
                    f"{len(identity)}",
                    f"{len(coded)}",
                    f"/{shrink:.1f}",
                    ">= /4 " + ("PASS" if shrink >= 4 else "FAIL"),
                ),
            ],
        )
    )
    print(
        f"nginx -w2 gzip_static, same compressed bytes: {nginx_cell}"
        + (f" (our gzip hit is {fmt_ratio(med['gzip'], med['nginx'])} of it)" if have_nginx else "")
    )
    return 0  # a benchmark, not a test: PASS/FAIL is information


if __name__ == "__main__":
    sys.exit(main())
