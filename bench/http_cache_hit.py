"""HTTP throughput of a feed cache hit, against bare Flask and nginx, in ONE run.

    .venv/bin/python -m bench.http_cache_hit               # ~2 min, 3 interleaved rounds
    .venv/bin/python -m bench.http_cache_hit --rounds 1    # ~40 s
    .venv/bin/python -m bench.http_cache_hit --self-test   # machinery check: "ours" = bare app

What is measured (all on 127.0.0.1, wrk -t2 -c64, warm-up then a fixed
duration, rounds interleaved, median per row):

(b) GET /feeds/<slug>.rss on our app (a cache hit: the feed was rendered once
    before the load starts) vs a bare Flask view returning the same bytes with
    the same Content-Type, both under the same server with the same flags
    (``PROD_GRANIAN``, i.e. what ``syndication run`` uses).  Target >= 0.8x.

(d) the same cache hit through ``syndication run`` (the production server
    command, as an operator starts it) vs a bare Flask view returning the same
    bytes under ``granian --interface wsgi --workers 2``.  Target >= 0.7x.  The
    bare baseline is measured both with granian's default flags and with the
    production flags; the target ratio uses the faster of the two, so tuning
    the server cannot flatter us.  Printed beside it: the ratio to nginx -w2
    serving the same bytes as a static file (the machine's limit).

The instance is a temporary directory with a SQLite database, configured via
``SYNDICATION_DATABASE_URL`` / ``SYNDICATION_BASE_URL`` in this process's
environment (inherited by the CLI and the servers).  ``prepare_instance`` fills
it and returns the feed's URL path; ``--prepare module:function`` plugs in
another filler with the same signature.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.http_harness import (
    HOST,
    LoadSpec,
    Server,
    WrkResult,
    bench_env,
    check_response,
    fmt_ratio,
    format_table,
    free_port,
    granian_cmd,
    http_get,
    nginx_static,
    run_wrk,
    venv_tool,
)

# Keep in sync with what `syndication run` does (see bench/wsgi_servers.py for
# why): 2 granian worker processes, 4 blocking (Python) threads each.
PROD_GRANIAN = {"workers": 2, "blocking_threads": 4}

# The brief names `syndication.create_app`; today the factory lives in
# syndication.app (wsgi.py: `from syndication.app import create_app`).
OUR_APP_FACTORIES = ("syndication:create_app", "syndication.app:create_app")
BARE_APP_FACTORY = "bench.bare_app:create_app"
SLUG = "bench"
N_STORIES = 20
BASE_URL = "http://127.0.0.1:8000"


# --------------------------------------------------------------------------
# the instance
# --------------------------------------------------------------------------


def syndication_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [venv_tool("syndication"), *args]
    proc = subprocess.run(  # noqa: S603
        argv, capture_output=True, text=True, timeout=120, env=bench_env(), check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def story_records(n: int) -> list[dict[str, object]]:
    """``n`` published stories of news-like size (title, lead, a few paragraphs)."""
    start = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
    para = (
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
        "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>"
    )
    return [
        {
            "title": f"Story number {i}: the council approves the new bridge",
            "summary": "The vote ends two years of debate over the crossing's cost and route.",
            "body_html": para * 2,
            "authors": ["A. Reporter"],
            "section": "world",
            "tags": ["bench", "infrastructure"],
            "language": "en",
            "source": "Bench Gazette",
            "status": "published",
            "published_at": (start + timedelta(hours=i)).isoformat(),
        }
        for i in range(n)
    ]


def add_stories(instance_dir: Path, slug: str, n: int) -> None:
    """Publish ``n`` stories through ``syndication import`` (JSON Lines).

    HOOK: if the import format or command changes, adapt this (or pass
    ``--prepare module:function``).  The feed should be a realistic size
    (~20 KB of RSS, like the baseline in bench/wsgi_servers.py); a feed with
    no items is a few hundred bytes and the benchmark then prints a warning.
    """
    path = instance_dir / "stories.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in story_records(n)) + "\n")
    syndication_cli("import", str(path), "--publish")


def prepare_instance(instance_dir: Path) -> str:
    """Create the schema, one channel and its stories; return the feed's URL path.

    The environment (SYNDICATION_DATABASE_URL, SYNDICATION_BASE_URL) is already
    set for ``instance_dir`` when this is called.
    """
    syndication_cli("init")
    syndication_cli("channel", "add", SLUG, "--title", "Bench channel")
    add_stories(instance_dir, SLUG, N_STORIES)
    return f"/feeds/{SLUG}.rss"


def our_app_factory() -> str:
    for spec in OUR_APP_FACTORIES:
        module, _, attr = spec.partition(":")
        try:
            if hasattr(importlib.import_module(module), attr):
                return spec
        except ImportError:
            continue
    raise RuntimeError(f"none of {OUR_APP_FACTORIES} is importable")


def load_callable(spec: str) -> Callable[[Path], str]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


# --------------------------------------------------------------------------
# what gets measured
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    build: Callable[[int], list[str]]
    path: str
    exact_body: bool  # the body must equal the reference bytes


def targets(url_path: str, our_factory: str, run_argv: Callable[[int], list[str]]) -> list[Target]:
    return [
        Target(
            "bare_prod",
            "bare Flask, granian -w2 --blocking-threads 4",
            lambda p: granian_cmd(BARE_APP_FACTORY, p, factory=True, **PROD_GRANIAN),
            url_path,
            True,
        ),
        Target(
            "ours_prod",
            "OUR cache hit, granian -w2 --blocking-threads 4",
            lambda p: granian_cmd(our_factory, p, factory=True, **PROD_GRANIAN),
            url_path,
            False,
        ),
        Target(
            "bare_default",
            "bare Flask, granian -w2 (default flags)",
            lambda p: granian_cmd(BARE_APP_FACTORY, p, factory=True, workers=2),
            url_path,
            True,
        ),
        Target(
            "ours_run",
            "OUR cache hit, `syndication run`",
            run_argv,
            url_path,
            False,
        ),
    ]


def syndication_run_argv(port: int) -> list[str]:
    return [venv_tool("syndication"), "run", "--host", HOST, "--port", str(port)]


def fetch_reference(our_factory: str, url_path: str) -> tuple[bytes, str]:
    """Start our app once, GET the feed twice (render, then cache hit)."""
    port = free_port()
    argv = granian_cmd(our_factory, port, factory=True, **PROD_GRANIAN)
    with Server("ours (reference fetch)", argv, port, ready_path=url_path) as srv:
        # Let every worker finish booting: granian loses a SIGTERM that reaches a
        # worker while it is still loading the app (see bench/RESULTS.md).
        time.sleep(1.0)
        status, _, first = http_get(srv.url(url_path))
        status2, headers, body = http_get(srv.url(url_path))
    if status != 200 or status2 != 200:
        raise RuntimeError(f"GET {url_path} -> {status}/{status2}")
    if first != body:
        print("  note: first and second GET differ (the cache hit is not byte-stable)")
    ctype = headers.get("Content-Type", "application/rss+xml; charset=utf-8")
    return body, ctype


def measure_target(t: Target, spec: LoadSpec, body: bytes, env: dict[str, str]) -> WrkResult:
    port = free_port()
    with Server(t.label, t.build(port), port, ready_path=t.path, env=env) as srv:
        check_response(srv.url(t.path), body if t.exact_body else None)
        if not t.exact_body:
            _, _, got = http_get(srv.url(t.path))
            if got != body:
                print(
                    f"  note: {t.label}: body differs from reference ({len(got)} vs {len(body)} B)"
                )
        res = run_wrk(srv.url(t.path), spec)
    if not res.ok:
        print(f"  !! {t.label}: non-2xx={res.non_2xx} socket-errors={res.socket_errors}")
    return res


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; median reported")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--prepare", help="module:function(instance_dir) -> url_path to fill the DB")
    ap.add_argument(
        "--self-test",
        action="store_true",
        help="test the machinery: 'ours' is the bare app, 'syndication run' is granian",
    )
    args = ap.parse_args(argv)
    spec = LoadSpec(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
    )

    with tempfile.TemporaryDirectory(prefix="bench-syndication-") as tmp:
        instance = Path(tmp)
        os.environ["SYNDICATION_DATABASE_URL"] = f"sqlite:///{instance / 'syndication.db'}"
        os.environ["SYNDICATION_BASE_URL"] = BASE_URL

        if args.self_test:
            our_factory = BARE_APP_FACTORY
            url_path = f"/feeds/{SLUG}.rss"

            def run_argv(p: int) -> list[str]:
                return granian_cmd(BARE_APP_FACTORY, p, factory=True, **PROD_GRANIAN)

        else:
            our_factory = our_app_factory()
            run_argv = syndication_run_argv
            prepare = load_callable(args.prepare) if args.prepare else prepare_instance
            url_path = prepare(instance)

        body, ctype = fetch_reference(our_factory, url_path)
        body_file = instance / "reference-body"
        body_file.write_bytes(body)
        print(
            f"{'SELF-TEST: ' if args.self_test else ''}GET {url_path}: {len(body)} B, {ctype}; "
            f"wrk -t{spec.threads} -c{spec.connections} -d{spec.duration:g}s "
            f"(+{spec.warmup:g}s warm-up), {args.rounds} round(s), median; "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        if len(body) < 2000:
            print(
                f"  WARNING: the feed is only {len(body)} B - fill add_stories() / --prepare "
                "so it has realistic items (~20 KB)"
            )
        # SYNDICATION_WORKERS pins `syndication run` to 2 workers on any machine.
        env = bench_env(
            {
                "BENCH_BODY_FILE": str(body_file),
                "BENCH_CONTENT_TYPE": ctype,
                "SYNDICATION_WORKERS": "2",
            }
        )

        ts = targets(url_path, our_factory, run_argv)
        runs: dict[str, list[float]] = {t.key: [] for t in ts}
        runs["nginx"] = []
        mime = ctype.split(";")[0].strip()
        for rnd in range(args.rounds):
            with nginx_static(body, url_path="/feed.rss", mime_type=mime, workers=2) as ngx:
                check_response(ngx.url("/feed.rss"), body)
                res = run_wrk(ngx.url("/feed.rss"), spec)
            runs["nginx"].append(res.rps)
            print(f"  [{rnd + 1}] {'nginx -w2, static file':<50} {res.rps:>9.0f} req/s", flush=True)
            for t in ts:
                res = measure_target(t, spec, body, env)
                runs[t.key].append(res.rps)
                print(f"  [{rnd + 1}] {t.label:<50} {res.rps:>9.0f} req/s", flush=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    labels = {t.key: t.label for t in ts} | {"nginx": "nginx -w2, static file (machine limit)"}
    order = ["nginx", "bare_default", "bare_prod", "ours_prod", "ours_run"]
    rows = [
        (
            labels[k],
            f"{med[k]:.0f}",
            fmt_ratio(med[k], med["nginx"]),
            " ".join(f"{x:.0f}" for x in runs[k]),
        )
        for k in order
    ]
    print()
    print(format_table(["server", "req/s (median)", "vs nginx", "all rounds"], rows))

    b = med["ours_prod"] / med["bare_prod"]
    bare_best_key = max(("bare_default", "bare_prod"), key=lambda k: med[k])
    d = med["ours_run"] / med[bare_best_key]
    print()
    print(
        format_table(
            ["benchmark", "baseline req/s", "ours req/s", "ratio", "target", "ours vs nginx"],
            [
                (
                    "(b) cache hit vs bare Flask, same server",
                    f"{med['bare_prod']:.0f}",
                    f"{med['ours_prod']:.0f}",
                    f"{b:.2f}x",
                    ">= 0.80x " + ("PASS" if b >= 0.8 else "FAIL"),
                    fmt_ratio(med["ours_prod"], med["nginx"]),
                ),
                (
                    "(d) `syndication run` vs bare Flask, granian -w2",
                    f"{med[bare_best_key]:.0f}",
                    f"{med['ours_run']:.0f}",
                    f"{d:.2f}x",
                    ">= 0.70x " + ("PASS" if d >= 0.7 else "FAIL"),
                    fmt_ratio(med["ours_run"], med["nginx"]),
                ),
            ],
        )
    )
    print(
        f"(d) baseline = faster of the two bare granian rows ({labels[bare_best_key]}); "
        f"vs the other: {med['ours_run'] / min(med['bare_default'], med['bare_prod']):.2f}x. "
        f"bare Flask itself reaches {fmt_ratio(med[bare_best_key], med['nginx'])} of nginx."
    )
    return 0  # a benchmark, not a test: PASS/FAIL is information


if __name__ == "__main__":
    sys.exit(main())
