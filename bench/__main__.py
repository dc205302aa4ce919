"""`python -m bench`: every benchmark, in one run.

  (a) feed page build vs feedgen            bench/feed_build.py
  (b) feed cache hit vs bare Flask          bench/http_cache_hit.py
  (c) 1,000 vs 1,000,000 stories            bench/archive_scale.py (first run fills ~5 GB in /tmp)
  (d) `syndication run` vs bare granian     bench/http_cache_hit.py
  gzip vs identity feed cache hit           bench/feed_gzip.py
  feed cache hit, reach counting off vs on  bench/feed_reach.py
      WSGI server choice                    bench/wsgi_servers.py (--servers)
  short links and QR codes                  bench/links_qr.py
  feed cache hit with vs without metrics    bench/request_metrics.py
  HTTP client choice                        bench/http_clients.py
  partner push fan-out (1,000 endpoints)    bench/push_fanout.py
  WebSub fan-out vs partner push            bench/websub_fanout.py
  API writes during a 5,000-story import    bench/import_while_writing.py

Each prints its baseline, ours and the ratio measured side by side. Never a test.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

PARTS = [
    ("(a) feed page build", "bench.feed_build", []),
    ("(b)+(d) feed cache hit over HTTP", "bench.http_cache_hit", ["--rounds", "1"]),
    ("gzip vs identity feed cache hit", "bench.feed_gzip", ["--rounds", "1"]),
    ("feed reach counting off vs on", "bench.feed_reach", ["--rounds", "1"]),
    ("(c) archive scale", "bench.archive_scale", []),
    ("short links and QR codes", "bench.links_qr", []),
    ("feed cache hit with vs without metrics", "bench.request_metrics", ["--rounds", "1"]),
    ("HTTP client choice", "bench.http_clients", []),
    ("partner push fan-out", "bench.push_fanout", []),
    ("WebSub fan-out", "bench.websub_fanout", []),
    ("API writes during an import", "bench.import_while_writing", []),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--servers", action="store_true", help="also compare WSGI servers")
    args = parser.parse_args(argv)
    parts = list(PARTS)
    if args.servers:
        parts.insert(1, ("WSGI server choice", "bench.wsgi_servers", ["--quick"]))
    failed = 0
    for title, module, part_args in parts:
        print(f"\n===== {title}: python -m {module} {' '.join(part_args)}".rstrip(), flush=True)
        started = time.monotonic()
        rc = importlib.import_module(module).main(part_args)
        failed += bool(rc)
        print(f"===== {title}: {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
