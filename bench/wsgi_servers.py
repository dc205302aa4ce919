"""Pick the WSGI server: bare Flask constant bytes under gunicorn, granian and
waitress side by side, against nginx serving the same bytes as a static file.

    .venv/bin/python -m bench.wsgi_servers            # ~2.5 min
    .venv/bin/python -m bench.wsgi_servers --quick    # fewer configs, shorter runs
    .venv/bin/python -m bench.wsgi_servers --shutdown-check

Every server gets 2 worker processes (waitress: 1 process, it has no
workers), the same wrk load (-t2 -c64, warm-up then a fixed duration), the
same ~20 KB application/rss+xml body.  The table shows req/s and the ratio to
nginx (the machine's limit for these bytes).

``--shutdown-check`` sends SIGTERM while a 1 s request is in flight and reports
whether that request still completed, and how long the server took to exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.bare_app import make_rss_body
from bench.http_harness import (
    LoadSpec,
    Server,
    WrkResult,
    fmt_ratio,
    format_table,
    free_port,
    granian_cmd,
    gunicorn_cmd,
    http_get,
    measure,
    nginx_static,
    waitress_cmd,
)

TARGET = "bench.bare_app:app"
PATH = "/bytes"


@dataclass(frozen=True)
class Config:
    label: str
    build: Callable[[int], list[str]]
    quick: bool = False  # part of --quick


CONFIGS: list[Config] = [
    Config("gunicorn sync -w2", lambda p: gunicorn_cmd(TARGET, p, workers=2), quick=True),
    Config(
        "gunicorn gthread -w2 --threads 2",
        lambda p: gunicorn_cmd(TARGET, p, workers=2, worker_class="gthread", threads=2),
    ),
    Config(
        "gunicorn gthread -w2 --threads 8",
        lambda p: gunicorn_cmd(TARGET, p, workers=2, worker_class="gthread", threads=8),
    ),
    Config(
        "granian -w2 (default blocking-threads)",
        lambda p: granian_cmd(TARGET, p, workers=2),
        quick=True,
    ),
    Config(
        "granian -w2 --blocking-threads 1",
        lambda p: granian_cmd(TARGET, p, workers=2, blocking_threads=1),
        quick=True,
    ),
    Config(
        "granian -w2 --blocking-threads 2",
        lambda p: granian_cmd(TARGET, p, workers=2, blocking_threads=2),
    ),
    Config(
        "granian -w2 --blocking-threads 4",
        lambda p: granian_cmd(TARGET, p, workers=2, blocking_threads=4),
    ),
    Config(
        "granian -w2 --blocking-threads 8",
        lambda p: granian_cmd(TARGET, p, workers=2, blocking_threads=8),
    ),
    Config(
        "granian -w2 --blocking-threads 4 --runtime-mode st",
        lambda p: granian_cmd(
            TARGET, p, workers=2, blocking_threads=4, extra=["--runtime-mode", "st"]
        ),
    ),
    Config(
        "granian -w2 --blocking-threads 1 --backpressure 32",
        lambda p: granian_cmd(TARGET, p, workers=2, blocking_threads=1, backpressure=32),
    ),
    Config(
        "waitress --threads 4 (1 process)", lambda p: waitress_cmd(TARGET, p, threads=4), quick=True
    ),
    Config("waitress --threads 8 (1 process)", lambda p: waitress_cmd(TARGET, p, threads=8)),
]


def _median(runs: list[WrkResult]) -> WrkResult:
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def bench_servers(
    configs: list[Config], spec: LoadSpec, body: bytes, repeat: int = 1
) -> list[tuple[str, WrkResult, list[float]]]:
    """Each config measured ``repeat`` times (interleaved rounds); median kept."""
    runs: dict[str, list[WrkResult]] = {}
    for rnd in range(repeat):
        with nginx_static(body, url_path="/feed.rss", workers=2) as ngx:
            label = ngx.name + " (static file)"
            res = measure(ngx, "/feed.rss", spec, expected_body=body)
            runs.setdefault(label, []).append(res)
            print(f"  [{rnd + 1}] {label:<55} {res.rps:>10.0f} req/s", flush=True)
        for cfg in configs:
            port = free_port()
            with Server(cfg.label, cfg.build(port), port, ready_path=PATH) as srv:
                res = measure(srv, PATH, spec, expected_body=body)
            runs.setdefault(cfg.label, []).append(res)
            print(f"  [{rnd + 1}] {cfg.label:<55} {res.rps:>10.0f} req/s", flush=True)
    return [(label, _median(rs), [r.rps for r in rs]) for label, rs in runs.items()]


def shutdown_check(configs: list[Config]) -> list[tuple[str, str, str, str]]:
    rows = []
    for cfg in configs:
        port = free_port()
        srv = Server(cfg.label, cfg.build(port), port, ready_path=PATH, stop_timeout=20)
        srv.start()
        outcome: dict[str, object] = {}

        def slow(srv: Server = srv, outcome: dict[str, object] = outcome) -> None:
            try:
                status, _, body = http_get(srv.url("/slow?s=1.0"), timeout=10)
                outcome["r"] = f"{status} {body.strip().decode(errors='replace')}"
            except Exception as exc:  # noqa: BLE001 - we report whatever happened
                outcome["r"] = f"{type(exc).__name__}: {exc}"

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        assert srv.proc is not None
        t0 = time.monotonic()
        os.kill(srv.proc.pid, signal.SIGTERM)  # the master only, like systemd/docker would
        try:
            srv.proc.wait(timeout=20)
            exited = f"{time.monotonic() - t0:.2f}s rc={srv.proc.returncode}"
        except Exception:  # noqa: BLE001
            exited = "did not exit in 20s"
        t.join(timeout=15)
        # new connections after shutdown must be refused (socket closed)
        try:
            http_get(srv.url(PATH), timeout=1)
            after = "still answering"
        except OSError:
            after = "refused"
        srv.stop()
        srv.cleanup()
        rows.append((cfg.label, str(outcome.get("r", "no answer")), exited, after))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--quick", action="store_true", help="only the main configs, 4 s runs")
    ap.add_argument("--only", default="", help="substring filter on config labels")
    ap.add_argument("--repeat", type=int, default=1, help="rounds; the median is reported")
    ap.add_argument(
        "--shutdown-check", action="store_true", help="graceful-shutdown check instead of load"
    )
    args = ap.parse_args(argv)

    configs = [c for c in CONFIGS if (c.quick or not args.quick) and args.only in c.label]
    if args.shutdown_check:
        rows = shutdown_check(configs)
        print(
            format_table(
                ["server", "in-flight 1 s request after SIGTERM", "master exit", "new conns"], rows
            )
        )
        return 0

    spec = LoadSpec(
        duration=4.0 if args.quick else args.duration,
        warmup=1.0 if args.quick else args.warmup,
        connections=args.connections,
        threads=args.threads,
    )
    body = make_rss_body()
    print(
        f"bare Flask, {len(body)} B application/rss+xml body; "
        f"wrk -t{spec.threads} -c{spec.connections} -d{spec.duration:g}s "
        f"after {spec.warmup:g}s warm-up; {os.cpu_count()} CPUs; "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    results = bench_servers(configs, spec, body, repeat=args.repeat)
    nginx_rps = results[0][1].rps
    rows = [
        (
            label,
            f"{r.rps:.0f}",
            fmt_ratio(r.rps, nginx_rps),
            f"{r.latency_p50_ms:.2f}",
            f"{r.latency_p99_ms:.2f}",
            r.non_2xx + r.socket_errors,
            " ".join(f"{x:.0f}" for x in all_rps) if len(all_rps) > 1 else "",
        )
        for label, r, all_rps in results
    ]
    print()
    headers = ["server", "req/s", "vs nginx", "p50 ms", "p99 ms", "errors", "all runs"]
    print(format_table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
