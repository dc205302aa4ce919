"""API writes during a 5,000-story import: how long does a story create wait?

    .venv/bin/python -m bench.import_while_writing                 # SQLite and PostgreSQL, ~4 min
    .venv/bin/python -m bench.import_while_writing --engines sqlite --stories 2000

The import runs in a process of its own (as `syndication import` does): a JSON Lines file of
N stories through `read_source` and `import_records`, the CLI's path. Meanwhile this process
posts stories to `POST /api/v1/stories` of the real app (create_app, a real token, the
Flask test client: the whole request path, without a socket), one after another with a 20 ms
gap, and records each request's latency until the import ends. Three ways of importing, run
one after the other on a fresh database each:

  one-txn   every record in one transaction (the import as a single batch)
  main      batches of 200 records, one transaction each, back to back (before this change)
  ours      transactions of <= 100 records and <= 0.2 s of work; on SQLite a 0.12 s pause
            between them (see syndication/imports/runner.py for why)

Printed per engine and mode: import time, writes done, p50 / p99 / max write latency, and the
p99 ratio of each baseline to ours. Timing only: never a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MODES: dict[str, dict[str, Any]] = {
    "one-txn": {"batch_records": 10**9, "batch_seconds": None, "pause": 0.0},
    "main": {"batch_records": 200, "batch_seconds": None, "pause": 0.0},
    "ours": {},  # the defaults, as `syndication import` runs
}
WRITE_GAP = 0.02
BODY = "".join(
    f"<p>Paragraph {i} of the story, with <a href='https://wire.example/{i}'>a link</a> and "
    f"<em>some</em> <strong>markup</strong>.</p>"
    for i in range(12)
)


def _settings(url: str, instance: str) -> Any:
    from syndication.config import load_settings

    return load_settings(
        {"database_url": url, "instance_path": instance, "base_url": "http://bench.example"},
        environ={},
    )


def _write_file(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = {
                "external_id": f"bench-{i}",
                "title": f"Imported story {i}",
                "summary": "An imported story.",
                "body_html": BODY,
                "status": "published",
                "section": "news",
                "tags": ["import", f"t{i % 10}"],
            }
            out.write(json.dumps(record) + "\n")


def _import(url: str, instance: str, path: str, mode: str, ready: Any, done: Any) -> None:
    """The importing process."""
    from syndication.db import Database
    from syndication.imports.runner import import_records
    from syndication.imports.sources import read_source

    settings = _settings(url, instance)
    db = Database(url)
    ready.set()
    started = time.perf_counter()
    summary = import_records(
        db, settings, read_source(path, tz=ZoneInfo("UTC")), publish=True, **MODES[mode]
    )
    done.put((time.perf_counter() - started, summary.counts["created"], summary.transactions))
    db.dispose()


def _fresh_database(engine: str, pg_url: str, workdir: Path, mode: str) -> str:
    from syndication.db import Database

    if engine == "sqlite":
        url = f"sqlite:///{workdir / f'{mode}.db'}"
    else:
        parsed = make_url(pg_url)
        name = f"{parsed.database}_{mode.replace('-', '_')}"
        admin = create_engine(
            parsed.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = parsed.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    db.migrate()
    db.dispose()
    return url


def _drop(engine: str, url: str) -> None:
    if engine == "sqlite":
        return
    parsed = make_url(url)
    admin = create_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def measure(engine: str, mode: str, n: int, pg_url: str, workdir: Path) -> dict[str, Any]:
    from syndication.app import create_app
    from syndication.auth.tokens import create_token
    from syndication.clock import utcnow

    url = _fresh_database(engine, pg_url, workdir, mode)
    instance = str(workdir / "instance")
    app = create_app(_settings(url, instance))
    rt = app.extensions["syndication"]
    with rt.db.write() as s:
        token = create_token(s, "bench", "editor", now=utcnow())[1]
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    # Warm the request path before timing anything.
    for i in range(5):
        client.post("/api/v1/stories", json={"title": f"warm {i}"}, headers=headers)

    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Queue()
    path = workdir / "stories.jsonl"
    proc = ctx.Process(target=_import, args=(url, instance, str(path), mode, ready, done))
    proc.start()
    ready.wait(60)
    latencies: list[float] = []
    errors = 0
    result = None
    i = 0
    while result is None:
        i += 1
        started = time.perf_counter()
        response = client.post(
            "/api/v1/stories",
            json={"title": f"live {i}", "status": "published", "body_html": "<p>live</p>"},
            headers=headers,
        )
        latencies.append(time.perf_counter() - started)
        errors += response.status_code != 201
        time.sleep(WRITE_GAP)
        if not done.empty():
            result = done.get()
        elif not proc.is_alive() and done.empty():
            raise RuntimeError(f"the import process died (exit {proc.exitcode})")
    proc.join(60)
    rt.close()
    _drop(engine, url)
    seconds, created, transactions = result
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "import_s": seconds,
        "created": created,
        "transactions": transactions,
        "writes": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies) * 1000,
        "p99": quantiles[98] * 1000,
        "max": max(latencies) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=5000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/synd_bench_import",
        help="PostgreSQL URL; databases <name>_<mode> are created and dropped",
    )
    args = parser.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        workdir = Path(tmp)
        _write_file(workdir / "stories.jsonl", args.stories)
        print(
            f"{args.stories} stories imported while API story creates run back to back "
            f"({WRITE_GAP * 1000:.0f} ms apart); write latency in ms"
        )
        print(
            f"{'engine':<11}{'mode':<9}{'import s':>9}{'txns':>6}{'writes':>8}{'errors':>7}"
            f"{'p50':>9}{'p99':>9}{'max':>9}"
        )
        for engine in args.engines.split(","):
            rows = {}
            for mode in args.modes.split(","):
                r = measure(engine, mode, args.stories, args.postgres, workdir)
                rows[mode] = r
                print(
                    f"{engine:<11}{mode:<9}{r['import_s']:>9.1f}{r['transactions']:>6}"
                    f"{r['writes']:>8}{r['errors']:>7}{r['p50']:>9.1f}{r['p99']:>9.1f}"
                    f"{r['max']:>9.1f}",
                    flush=True,
                )
            if "ours" in rows:
                ours = rows["ours"]
                for mode, r in rows.items():
                    if mode != "ours":
                        print(
                            f"{engine:<11}{mode} / ours: write p99 {r['p99'] / ours['p99']:.1f}x, "
                            f"write max {r['max'] / ours['max']:.1f}x; "
                            f"ours / {mode}: import time {ours['import_s'] / r['import_s']:.2f}x"
                        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
