"""What the metrics cost the hottest request: a feed cache hit, with and without them, in ONE run.

    .venv/bin/python -m bench.request_metrics               # ~1.5 min, 3 interleaved rounds
    .venv/bin/python -m bench.request_metrics --rounds 1

Both servers are our app under granian with `syndication run`'s flags (2 workers, 4 blocking
threads) and PROMETHEUS_MULTIPROC_DIR set, as `syndication run` sets it (every increment is a
write to a memory-mapped file, the costlier mode). "without" is the same app with the request
counting middleware taken off and the feed cache counter made a no-op: the baseline is the
service as it was before /metrics. wrk -t2 -c64 on 127.0.0.1; median of the rounds; ratio =
with / without. The instance (SQLite, one channel of 20 stories) is bench/http_cache_hit.py's.

Then the same two apps called in one process, no server and no sockets (WSGI calls of the same
cache hit, interleaved rounds): the cost of the metrics alone, much less moved by the machine's
load than the HTTP figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask

from bench.http_cache_hit import BASE_URL, PROD_GRANIAN, prepare_instance
from bench.http_harness import (
    LoadSpec,
    Server,
    bench_env,
    check_response,
    fmt_ratio,
    free_port,
    granian_cmd,
    http_get,
    run_wrk,
)

WITH = "syndication.app:create_app"
WITHOUT = "bench.request_metrics:app_without_metrics"


def app_without_metrics() -> Flask:
    """Our app as it was before /metrics counted anything on the feed hit path."""
    from syndication.app import create_app
    from syndication.ops.traffic import RequestCounter

    app = create_app()
    counter = app.wsgi_app
    assert isinstance(counter, RequestCounter), "the request counter is no longer outermost"
    app.wsgi_app = counter.app  # type: ignore[method-assign]
    app.extensions["syndication"].metrics.feed_cache_lookup = lambda fmt, hit: None
    return app


def _counted(url: str) -> str:
    """The feed hits the app counted, read back from its /metrics (a check that it counted)."""
    _, _, body = http_get(url)
    for line in body.decode().splitlines():
        if line.startswith('syndication_feed_cache_requests_total{format="rss",result="hit"}'):
            return line.rsplit(" ", 1)[1]
    return "none"


def _calls_per_second(app: Flask, environ: dict, calls: int) -> float:
    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        assert status.startswith("200"), status

    started = time.perf_counter()
    for _ in range(calls):
        body = app(dict(environ), start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return calls / (time.perf_counter() - started)


def in_process(path: str, calls: int, rounds: int) -> None:
    """Run in a child with PROMETHEUS_MULTIPROC_DIR set: both apps, interleaved rounds."""
    from werkzeug.test import EnvironBuilder

    from syndication.app import create_app

    apps = {"without": app_without_metrics(), "with": create_app()}
    environ = EnvironBuilder(path=path, base_url=BASE_URL).get_environ()
    for app in apps.values():
        _calls_per_second(app, environ, 200)  # the first renders; warm the rest
    runs: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(rounds):
        for key, app in apps.items():
            runs[key].append(_calls_per_second(app, environ, calls))
    without, with_ = (statistics.median(runs[k]) for k in ("without", "with"))
    print(f"  in process, {calls} WSGI calls x {rounds} rounds, median:")
    print(f"    without metrics {without:>9.0f} calls/s ({1e6 / without:.1f} us each)")
    print(f"    with metrics    {with_:>9.0f} calls/s ({1e6 / with_:.1f} us each)")
    print(f"    ratio with / without {fmt_ratio(with_, without)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--calls", type=int, default=20_000, help="WSGI calls per in-process round")
    ap.add_argument("--in-process", metavar="PATH", help=argparse.SUPPRESS)  # the child's part
    args = ap.parse_args(argv)
    if args.in_process:
        in_process(args.in_process, args.calls, max(args.rounds, 5))
        return 0
    spec = LoadSpec(duration=args.duration, warmup=args.warmup, connections=64, threads=2)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        instance = Path(tmp)
        os.environ["SYNDICATION_DATABASE_URL"] = f"sqlite:///{instance / 'syndication.db'}"
        os.environ["SYNDICATION_BASE_URL"] = BASE_URL
        path = prepare_instance(instance)
        runs: dict[str, list[float]] = {"without": [], "with": []}
        print(
            f"GET {path} (cache hit), wrk -t2 -c64 -d{args.duration:g}s, granian -w2 "
            f"--blocking-threads 4, PROMETHEUS_MULTIPROC_DIR set; {args.rounds} round(s), "
            f"median; {os.cpu_count()} CPUs",
            flush=True,
        )
        for rnd in range(args.rounds):
            for key, factory in (("without", WITHOUT), ("with", WITH)):
                shared = instance / f"metrics-{key}-{rnd}"
                shared.mkdir()
                env = bench_env({"PROMETHEUS_MULTIPROC_DIR": str(shared)})
                port = free_port()
                argv_ = granian_cmd(factory, port, factory=True, **PROD_GRANIAN)
                with Server(f"{key} metrics", argv_, port, ready_path=path, env=env) as srv:
                    check_response(srv.url(path))
                    res = run_wrk(srv.url(path), spec)
                    counted = _counted(srv.url("/metrics"))
                runs[key].append(res.rps)
                print(
                    f"  [{rnd + 1}] {key + ' metrics':<16} {res.rps:>9.0f} req/s"
                    f"   (feed hits counted: {counted})",
                    flush=True,
                )
        without, with_ = (statistics.median(runs[k]) for k in ("without", "with"))
        print(f"\n  without metrics (baseline) {without:>9.0f} req/s")
        print(f"  with metrics (ours)        {with_:>9.0f} req/s")
        print(f"  ratio with / without       {fmt_ratio(with_, without)}\n", flush=True)
        shared = instance / "metrics-in-process"
        shared.mkdir()
        child = [sys.executable, "-m", "bench.request_metrics", "--in-process", path]
        child += ["--calls", str(args.calls), "--rounds", str(args.rounds)]
        env = bench_env({"PROMETHEUS_MULTIPROC_DIR": str(shared)})
        subprocess.run(child, env=env, check=True, timeout=600)  # noqa: S603
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
