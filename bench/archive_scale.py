"""Feed page build time with 1,000 vs 1,000,000 stories in the archive, in ONE run.

    .venv/bin/python -m bench.archive_scale                      # SQLite; first run fills 1M
    .venv/bin/python -m bench.archive_scale --postgres postgresql+psycopg://postgres@127.0.0.1:5432/synd_bench
    .venv/bin/python -m bench.archive_scale --large 200000       # a smaller "large" archive

The design says a page costs the same whatever the archive size (one index range scan on
ix_stories_feed, plus indexed EXISTS probes of story_terms for a filtered channel). Measured:
a 50-item page of two channels -- "all" (no filter) and "section" (filter: one of 8 sections,
~1/8 of the stories) -- on a small archive (the baseline) and on a large one, alternating
between the two databases round after round; median per call, ratio large / small.
Target: <= 1.2x.

* page query: in a read session, the channel row and ``page_stories`` (query + ORM loading).
* page build: what the feed route does on a cache miss -- the channel row, ``build_feed`` and
  ``feeds.render`` (RSS).

The archives are bench fixtures filled with raw SQL, fast: the schema comes from
``Database(url).migrate()``, then ``stories`` and ``story_terms`` rows are bulk-inserted in big
transactions (SQLite: executemany; PostgreSQL: COPY, the bulk path of that engine), with the
secondary indexes dropped during the load and recreated after with the migration's
definitions. Each row is what ``create_story`` would write (checked at start: one record goes
through the service into a scratch database and its row and terms must equal the generated
ones): sanitised ~3 KB HTML body, 2 authors, source, section, 3 tags, language, image,
content_hash, revision 1, and the terms of ``syndication.filters.story_terms``. Statuses: ~98%
published, the rest draft / scheduled / retracted; published_at spread over 10 years.

SQLite files are kept in /tmp/syndication-bench-archive/ and reused (a sidecar .ok file marks
a complete fill); delete that directory to rebuild. SQLite gets no ANALYZE (nor does a real
instance); PostgreSQL is ANALYZEd after the load (autovacuum would do it within minutes).
PostgreSQL databases are <name>_<size>, created for the run and dropped at its end unless
--keep-postgres (then reused by the next run).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

import feeds
from syndication.channels.pages import build_feed, page_stories
from syndication.channels.service import create_channel
from syndication.config import Settings
from syndication.db import Database
from syndication.filters import story_terms
from syndication.models import Channel
from syndication.stories.schema import CONTENT_FIELDS, finish_body
from syndication.stories.service import create_story

FIXTURE_VERSION = "archive-v1"
CACHE_DIR = Path("/tmp/syndication-bench-archive")
BASE = "http://news.example.test"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=3652)  # published_at spread over 10 years, newest at NOW
CODE_START = 1_000_000
SMALL = 1_000
LARGE = 1_000_000
PAGE = 50
TARGET = 1.2
CHUNK = 20_000

SECTIONS = ["World", "Politics", "Business", "Technology", "Science", "Sport", "Culture", "Health"]
FILTER_SECTION = "Science"
TAGS = [
    "elections", "climate", "markets", "ai", "energy", "football", "space", "health care",
    "trade", "housing", "education", "transport", "courts", "music", "film", "tennis",
    "banking", "inflation", "migration", "security", "diplomacy", "oil", "startups", "weather",
]  # fmt: skip
AUTHORS = [
    "Ada Lovelace", "Grace Hopper", "Ken Thompson", "Barbara Liskov", "Donald Knuth",
    "Margaret Hamilton", "Dennis Ritchie", "Frances Allen", "Edsger Dijkstra", "Radia Perlman",
]  # fmt: skip
WORDS = (
    "the council said on tuesday that its plan would cut costs and raise output across the "
    "region while critics warned of delays higher prices and a long legal fight over land "
    "water rights and the future of public transport in the city centre officials added"
).split()

STORY_COLUMNS = (
    "id", "code", "external_id", "title", "summary", "body_html", "url", "authors", "source",
    "section", "tags", "language", "image", "status", "publish_at", "published_at",
    "created_at", "updated_at", "revision", "content_hash",
)  # fmt: skip
# Secondary indexes, as the migration creates them: dropped for the bulk load, then rebuilt.
INDEXES = {
    "ix_stories_feed": "stories (status, published_at, id)",
    "ix_stories_due": "stories (status, publish_at)",
    "ix_story_terms_lookup": "story_terms (kind, value, story_id)",
}


# ---------------------------------------------------------------------------------------------
# Story generator: what create_story would store


class Generator:
    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rng = rng

        def sentence(n: int) -> str:
            return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

        self.sentences = [sentence(rng.randint(12, 20)) for _ in range(400)]
        self.summaries = [sentence(30) for _ in range(200)]
        # Sanitised bodies (nh3 via finish_body), per template and per base host: relative
        # links resolve against the story's canonical URL (the partner's, or our page).
        raw = [self._raw_body(k) for k in range(32)]
        self.bodies = {
            external: [
                finish_body(b, "https://partner.example.test/news/x" if external else BASE)
                for b in raw
            ]
            for external in (False, True)
        }

    def _raw_body(self, k: int) -> str:
        rng = self.rng
        paragraphs = []
        for p in range(9):
            body = " ".join(rng.choice(self.sentences) for _ in range(3))
            if p == 2:
                body += f' See <a href="/related/{k}">our earlier report</a> and <em>more</em>.'
            paragraphs.append(f"<p>{body}</p>")
        paragraphs.insert(
            4,
            f'<figure><img src="https://cdn.example.test/img/{k}-inline.jpg" alt="Scene">'
            "<figcaption>The scene.</figcaption></figure>",
        )
        return "\n".join(paragraphs)

    def record(self, i: int, n: int) -> dict[str, Any]:
        """Story i of an archive of n: the stored values (content fields, status, dates)."""
        rng = self.rng
        external = i % 3 == 0
        published = NOW - SPAN * ((n - i) / n) - timedelta(seconds=rng.randint(0, 59))
        roll = rng.random()
        status, publish_at = "published", None
        if roll < 0.005:
            status, published = "draft", None
        elif roll < 0.006:
            status, publish_at, published = (
                "scheduled",
                NOW + timedelta(days=rng.randint(1, 9)),
                None,
            )
        elif roll < 0.02:
            status = "retracted"
        return {
            "code": str(CODE_START + i),
            "title": f"Story {i}: {rng.choice(self.sentences)[:70].rstrip('.')}",
            "summary": rng.choice(self.summaries),
            "body_html": rng.choice(self.bodies[external]),
            "url": f"https://partner.example.test/news/{i}" if external else None,
            "authors": rng.sample(AUTHORS, 2),
            "source": "Newsroom" if i % 4 else "Wire Service",
            "section": SECTIONS[rng.randrange(len(SECTIONS))],
            "tags": rng.sample(TAGS, 3),
            "language": "en" if i % 2 else "en-GB",
            "image": {
                "url": f"https://cdn.example.test/img/{i}.jpg",
                "type": "image/jpeg",
                "caption": f"Photo for story {i}",
                "length": 100_000 + i % 50_000,
                "width": 1200,
                "height": 800,
            },
            "status": status,
            "publish_at": publish_at,
            "published_at": published,
            # Written when it happened; an import would also date updated_at = published_at.
            "created_at": published or NOW,
            "updated_at": published or NOW,
        }


def content_hash(rec: dict[str, Any]) -> str:
    """As the service computes it (stories.service._content_hash)."""
    blob = json.dumps([rec.get(k) for k in CONTENT_FIELDS], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def terms_of(rec: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        story_terms(
            section=rec["section"],
            tags=rec["tags"],
            language=rec["language"],
            source=rec["source"],
            authors=rec["authors"],
        )
    )


def _sqlite_dt(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME text format, naive UTC (see models.UTCDateTime).
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def rows(
    gen: Generator, n: int, sqlite_dates: bool
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(story rows, term rows) in chunks of CHUNK stories, ids 1..n."""
    conv: Callable[[datetime | None], Any] = _sqlite_dt if sqlite_dates else (lambda d: d)
    for start in range(0, n, CHUNK):
        stories, terms = [], []
        for i in range(start, min(start + CHUNK, n)):
            rec = gen.record(i, n)
            sid = i + 1
            stories.append(
                (
                    sid,
                    rec["code"],
                    None,
                    rec["title"],
                    rec["summary"],
                    rec["body_html"],
                    rec["url"],
                    json.dumps(rec["authors"]),
                    rec["source"],
                    rec["section"],
                    json.dumps(rec["tags"]),
                    rec["language"],
                    json.dumps(rec["image"]),
                    rec["status"],
                    conv(rec["publish_at"]),
                    conv(rec["published_at"]),
                    conv(rec["created_at"]),
                    conv(rec["updated_at"]),
                    1,
                    content_hash(rec),
                )  # fmt: skip
            )
            terms.extend((sid, kind, value) for kind, value in terms_of(rec))
        yield stories, terms


def check_fidelity(gen: Generator) -> None:
    """One generated record through create_story: its stored row and terms must be ours."""
    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as tmp:
        db = Database(f"sqlite:///{tmp}/f.db")
        db.migrate()
        settings = Settings(base_url=BASE, code_start=CODE_START)
        for i in (3, 4):  # one with a partner URL, one without
            rec = gen.record(i, 10)
            rec.update(status="published", publish_at=None)
            rec["published_at"] = rec["published_at"] or NOW - timedelta(days=1)
            rec["created_at"] = rec["updated_at"] = rec["published_at"]
            data = {k: rec[k] for k in CONTENT_FIELDS if rec[k] is not None}
            data.update(code=rec["code"], published_at=rec["published_at"].isoformat())
            # The generated body is already sanitised: the service must leave it as it is.
            with db.write() as s:
                create_story(s, settings, data, now=NOW, default_status="published")
            stored = sqlite3.connect(f"{tmp}/f.db")
            row = stored.execute(
                f"SELECT {', '.join(STORY_COLUMNS[1:])} FROM stories WHERE code = ?",
                (rec["code"],),
            ).fetchone()
            got = dict(zip(STORY_COLUMNS[1:], row, strict=True))
            sid = stored.execute("SELECT id FROM stories WHERE code = ?", (rec["code"],)).fetchone()
            got_terms = stored.execute(
                "SELECT kind, value FROM story_terms WHERE story_id = ? ORDER BY kind, value",
                sid,
            ).fetchall()
            stored.close()
            (mine,), mine_terms = next(rows(_Single(rec), 1, sqlite_dates=True))
            want = dict(zip(STORY_COLUMNS, mine, strict=True))
            for key in ("authors", "tags", "image"):
                got[key], want[key] = json.loads(got[key]), json.loads(want[key])
            want["created_at"] = got["created_at"]  # the service dates it `now` (import time)
            diff = {k: (got[k], want[k]) for k in got if got[k] != want[k]}
            if diff or [tuple(t) for t in got_terms] != [t[1:] for t in mine_terms]:
                raise SystemExit(f"fixture rows differ from what the service writes: {diff}")
        db.dispose()


class _Single(Generator):
    """A generator that always returns one given record (for the fidelity check)."""

    def __init__(self, rec: dict[str, Any]) -> None:
        self.rec = rec

    def record(self, i: int, n: int) -> dict[str, Any]:
        return self.rec


# ---------------------------------------------------------------------------------------------
# Filling the archives


def _channels(db: Database) -> None:
    with db.write() as s:
        create_channel(s, {"slug": "all", "title": "All news", "limit": PAGE}, now=NOW)
        create_channel(
            s,
            {
                "slug": "section",
                "title": f"{FILTER_SECTION} news",
                "limit": PAGE,
                "filter": {"sections": [FILTER_SECTION]},
            },
            now=NOW,
        )


def fill_sqlite(path: Path, n: int) -> Database:
    ok = path.with_suffix(".ok")
    url = f"sqlite:///{path}"
    if ok.exists() and ok.read_text() == f"{FIXTURE_VERSION} {n}" and path.exists():
        print(f"  reusing {path} ({n:,} stories)")
        return Database(url)
    for stale in (path, ok, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    t0 = time.perf_counter()
    db = Database(url)
    db.migrate()
    _channels(db)
    db.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")  # a fixture: a crash leaves no .ok, so a rebuild
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    for name in INDEXES:
        conn.execute(f"DROP INDEX {name}")
    marks = ", ".join("?" * len(STORY_COLUMNS))
    conn.execute("BEGIN")
    done = 0
    for stories, terms in rows(Generator(), n, sqlite_dates=True):
        conn.executemany(
            f"INSERT INTO stories ({', '.join(STORY_COLUMNS)}) VALUES ({marks})", stories
        )
        conn.executemany("INSERT INTO story_terms (story_id, kind, value) VALUES (?, ?, ?)", terms)
        done += len(stories)
        if done % 200_000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            print(f"  {done:,} stories ({time.perf_counter() - t0:.0f} s)", flush=True)
    conn.execute("COMMIT")
    for name, target in INDEXES.items():
        conn.execute(f"CREATE INDEX {name} ON {target}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    ok.write_text(f"{FIXTURE_VERSION} {n}")
    size = path.stat().st_size / 1e9
    print(f"  filled {path} with {n:,} stories in {time.perf_counter() - t0:.0f} s ({size:.1f} GB)")
    return Database(url)


def _pg_admin_and_name(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    name = parsed.database or "synd_bench"
    admin = parsed.set(database="postgres").render_as_string(hide_password=False)
    return admin, name


def fill_postgres(url: str, n: int, keep: bool) -> tuple[Database, Callable[[], None]]:
    admin_url, base_name = _pg_admin_and_name(url)
    name = f"{base_name}_{n}"
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    marker = f"{FIXTURE_VERSION} {n}"

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    with admin.connect() as c:
        comment = c.execute(
            text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"
            ),
            {"n": name},
        ).scalar()
    if keep and comment == marker:
        print(f"  reusing PostgreSQL database {name} ({n:,} stories)")
        return Database(db_url), (lambda: admin.dispose())
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    t0 = time.perf_counter()
    db = Database(db_url)
    db.migrate()
    _channels(db)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for index in INDEXES:
            cur.execute(f"DROP INDEX {index}")
        done = 0
        for stories, terms in rows(Generator(), n, sqlite_dates=False):
            with cur.copy(f"COPY stories ({', '.join(STORY_COLUMNS)}) FROM STDIN") as copy:
                for row in stories:
                    copy.write_row(row)
            with cur.copy("COPY story_terms (story_id, kind, value) FROM STDIN") as copy:
                for row in terms:
                    copy.write_row(row)
            done += len(stories)
            if done % 200_000 == 0:
                raw.commit()
                print(f"  {done:,} stories ({time.perf_counter() - t0:.0f} s)", flush=True)
        for index, target in INDEXES.items():
            cur.execute(f"CREATE INDEX {index} ON {target}")
        cur.execute("SELECT setval(pg_get_serial_sequence('stories', 'id'), max(id)) FROM stories")
        raw.commit()
    finally:
        raw.close()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
        c.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{marker}'"))
    print(f"  filled PostgreSQL {name} with {n:,} stories in {time.perf_counter() - t0:.0f} s")
    return db, (lambda: None) if keep else drop


# ---------------------------------------------------------------------------------------------
# Measuring


def set_parallel(db: Database, *, off: bool) -> None:
    """Turn parallel query off (or back to the server default) for new sessions of db."""
    name = make_url(db.url).database
    value = (
        "SET max_parallel_workers_per_gather = 0"
        if off
        else "RESET max_parallel_workers_per_gather"
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'ALTER DATABASE "{name}" {value}'))
    db.engine.dispose()  # pooled connections keep the old value


def page_query(db: Database, settings: Settings, slug: str) -> int:
    with db.read() as s:
        channel = s.scalar(select(Channel).where(Channel.slug == slug))
        stories, _ = page_stories(s, channel, channel.limit or settings.feed_limit, None)
        return len(stories)


def page_build(db: Database, settings: Settings, slug: str) -> bytes:
    with db.read() as s:
        channel = s.scalar(select(Channel).where(Channel.slug == slug))
        return feeds.render(build_feed(s, settings, channel, "rss", None), "rss")


def explain(db: Database, settings: Settings, slug: str) -> str:
    """The plan of the page query exactly as page_stories sends it."""
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM stories" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        page_query(db, settings, slug)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, params = seen[0]
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.is_sqlite:
            cur.execute("EXPLAIN QUERY PLAN " + statement, params)
            plan = "\n".join(f"    {'  ' * (r[1] > 0)}{r[3]}" for r in cur.fetchall())
        else:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
            plan = "\n".join(f"    {r[0]}" for r in cur.fetchall())
        raw.rollback()
    finally:
        raw.close()
    return f"  SQL: {' '.join(statement.split())}\n  params: {params}\n  plan:\n{plan}"


def measure(
    small: Database, large: Database, settings: Settings, rounds: int
) -> list[tuple[str, str, float, float]]:
    out = []
    for what, fn in (("page query", page_query), ("page build", page_build)):
        for slug in ("all", "section"):
            assert page_query(small, settings, slug) == page_query(large, settings, slug) == PAGE
            for _ in range(5):
                fn(small, settings, slug)
                fn(large, settings, slug)
            ts: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(rounds):
                for key, db in (("small", small), ("large", large)):
                    gc.collect()
                    t0 = time.perf_counter()
                    fn(db, settings, slug)
                    ts[key].append(time.perf_counter() - t0)
            out.append((what, slug, statistics.median(ts["small"]), statistics.median(ts["large"])))
    return out


def report(engine: str, n_small: int, n_large: int, rounds: int, results: list) -> float:
    print(f"\n{engine}: {PAGE}-item page, median of N={rounds} interleaved calls")
    head = (
        f"{'measure':11} {'channel':8} | {f'{n_small:,} ms':>12} {f'{n_large:,} ms':>14}"
        f" | {'ratio':>6} | target <= {TARGET}x"
    )
    print(head)
    print("-" * len(head))
    worst = 0.0
    for what, slug, t_small, t_large in results:
        ratio = t_large / t_small
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET else "OVER"
        print(
            f"{what:11} {slug:8} | {t_small * 1000:12.3f} {t_large * 1000:14.3f}"
            f" | {ratio:5.2f}x | {verdict}"
        )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (bench db name)")
    parser.add_argument("--keep-postgres", action="store_true", help="keep and reuse PG dbs")
    parser.add_argument(
        "--large", type=int, default=LARGE, help=f"large archive (default {LARGE:,})"
    )
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)
    settings = Settings(base_url=BASE, code_start=CODE_START)

    print("fixture check: generated rows equal what create_story writes ... ", end="", flush=True)
    check_fidelity(Generator())
    print("ok")

    engines: list[tuple[str, Callable[[int], tuple[Database, Callable[[], None]]]]] = []
    if not args.no_sqlite:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        engines.append(
            ("SQLite", lambda n: (fill_sqlite(CACHE_DIR / f"archive-{n}.db", n), lambda: None))
        )
    if args.postgres:
        engines.append(
            ("PostgreSQL", lambda n: fill_postgres(args.postgres, n, args.keep_postgres))
        )
    summary = []
    for engine, fill in engines:
        print(f"\n{engine}: archives of {SMALL:,} and {args.large:,} stories")
        small, drop_small = fill(SMALL)
        large, drop_large = fill(args.large)
        try:
            print(f"\n{engine}: plan of the filtered channel's page query ({args.large:,} stories)")
            print(explain(large, settings, "section"))
            results = measure(small, large, settings, args.rounds)
            summary.append((engine, report(engine, SMALL, args.large, args.rounds, results)))
            if engine == "PostgreSQL":
                # The planner may pick a parallel plan (Gather Merge) for the large archive:
                # worker start-up costs milliseconds on a page that touches ~600 index rows.
                label = f"{engine}, max_parallel_workers_per_gather = 0"
                for db in (small, large):
                    set_parallel(db, off=True)
                try:
                    print(f"\n{label}: plan of the filtered channel's page query")
                    print(explain(large, settings, "section"))
                    results = measure(small, large, settings, args.rounds)
                    summary.append((label, report(label, SMALL, args.large, args.rounds, results)))
                finally:
                    for db in (small, large):
                        set_parallel(db, off=False)
        finally:
            small.dispose()
            large.dispose()
            drop_small()
            drop_large()
    print()
    for engine, worst in summary:
        print(f"{engine}: worst ratio {worst:.2f}x (target <= {TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
