"""WebSub fan-out: one story published in a channel with 1,000 verified WebSub subscribers, vs the
partner-push (webhook) fan-out of the same size, on the same engine, in the same run.

    .venv/bin/python -m bench.websub_fanout                     # SQLite + PostgreSQL if it answers
    .venv/bin/python -m bench.websub_fanout --no-postgres --rounds 1

Same approach as bench/push_fanout.py (its receiver process, worker processes and helpers are
reused): everything on 127.0.0.1, the receiver a separate asyncio process answering 204.

* Each database holds two channels, "local" (section Local) and "wire" (section Wire); 1,000
  verified WebSub subscriptions to local's RSS topic (each with its own hub.secret) and 1,000
  webhook subscribers of wire, all active, all calling back ``/hook/<n>`` on the receiver. A
  WebSub run publishes a Local story, a webhook run a Wire story (same title and body), so
  each run makes exactly 1,000 deliveries of one kind. Each run starts a fresh ``syndication
  worker`` (default settings: the publish commit wakes it, the bench holding the database as
  a web process does, with its push Waker), publishes, and measures from the publish commit to
  (a) every delivery row ``delivered`` (the figure, defined as in push_fanout) and (b) the
  receiver's last POST. Per s = 1,000 / (a).
* WebSub sends the channel's whole current RSS document (rendered once per version, then
  reused) where a webhook sends the story's JSON: the bodies differ in size and both are
  printed.
* Rounds interleave webhook / WebSub per database; medians per row. Target: WebSub >= 0.8x the
  webhook rate of the same database (PASS/FAIL printed).
* Every run is verified: 1,000 POSTs on 1,000 distinct paths; every delivery delivered with one
  attempt logged; WebSub samples (10) carry the RSS Content-Type, the hub/self Link header and
  an X-Hub-Signature that verifies (HMAC-SHA256 computed here) and contain the new story, and
  no Standard Webhooks headers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta

from bench.push_fanout import (
    HOST,
    N_SUBSCRIBERS,
    POLL_INTERVAL,
    SAMPLE_EVERY,
    BenchDB,
    create_pg_database,
    load_average,
    machine_ticks,
    med,
    publish,
    publisher_db,
    receiver_reset,
    receiver_stats,
    start_workers,
    verdict,
)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RUN_TIMEOUT = 60.0
CHANNEL = "local"  # the WebSub subscriptions' channel (section Local)
WIRE = "wire"  # the webhook subscribers' channel (section Wire)
SECTIONS = {"websub": "Local", "webhook": "Wire"}
TARGET = 0.8
TOPIC = f"http://news.example.test/feeds/{CHANNEL}.rss"
RSS_TYPE = "application/rss+xml; charset=utf-8"
LINK = f'<http://news.example.test/hub>; rel="hub", <{TOPIC}>; rel="self"'


def websub_secret(n: int) -> str:
    return f"hub-secret-{n:04d}"


def prepare(bdb: BenchDB, port: int) -> None:
    """Migrate; the two channels; 1,000 webhook subscribers of wire and 1,000 verified WebSub
    subscriptions to local's RSS topic, all active."""
    from syndication.channels.service import create_channel
    from syndication.clock import utcnow
    from syndication.db import Database
    from syndication.models import Subscriber
    from syndication.push.webhooks.signing import generate_secret

    settings = bdb.settings()
    db = Database(settings.db_url)
    db.migrate()
    now = utcnow()
    with db.write() as s:
        create_channel(
            s, {"slug": CHANNEL, "title": "Local news", "filter": {"sections": ["Local"]}}, now=now
        )
        create_channel(
            s, {"slug": WIRE, "title": "Wire", "filter": {"sections": ["Wire"]}}, now=now
        )
    common = {"event_types": [], "filter": {}, "format": "json", "headers": {}, "created_at": now}
    with db.write() as s:
        s.execute(
            Subscriber.__table__.insert(),
            [
                {
                    **common,
                    "kind": "webhook",
                    "name": f"partner {n}",
                    "url": f"http://{HOST}:{port}/hook/{n}",
                    "secret": generate_secret(),
                    "channels": [WIRE],
                    "active": True,
                }
                for n in range(N_SUBSCRIBERS)
            ],
        )
        s.execute(
            Subscriber.__table__.insert(),
            [
                {
                    **common,
                    "kind": "websub",
                    "name": f"reader {n}",
                    "url": f"http://{HOST}:{port}/hook/{n}",
                    "secret": websub_secret(n),
                    "channels": [CHANNEL],
                    "topic": TOPIC,
                    "topic_format": "rss",
                    "lease_seconds": 86400,
                    "lease_expires_at": now + timedelta(days=1),
                    "verified_at": now,
                    "active": True,
                }
                for n in range(N_SUBSCRIBERS)
            ],
        )
    db.dispose()


@dataclass
class Run:
    received: float  # publish commit -> the receiver's last POST
    recorded: float  # publish commit -> every delivery row delivered
    pickup: float = float("nan")
    body_bytes: int = 0
    cpu_busy: float = float("nan")
    worker_cpu: float = float("nan")
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return N_SUBSCRIBERS / self.recorded


def check(port: int, kind: str, code: str) -> tuple[list[str], dict]:
    st = receiver_stats(port)
    problems = []
    if st["total"] != N_SUBSCRIBERS or st["distinct"] != N_SUBSCRIBERS or st["max_per_path"] != 1:
        problems.append(
            f"receiver: {st['total']} POSTs on {st['distinct']} paths (max {st['max_per_path']})"
        )
    samples = st["samples"]
    if len(samples) != N_SUBSCRIBERS // SAMPLE_EVERY:  # type: ignore[arg-type]
        problems.append(f"receiver kept {len(samples)} samples")  # type: ignore[arg-type]
    if kind == "websub":
        for sample in samples:  # type: ignore[union-attr]
            n = int(sample["path"].rsplit("/", 1)[1])
            h, body = sample["headers"], sample["body"].encode("utf-8")
            want = hmac.new(websub_secret(n).encode(), body, hashlib.sha256).hexdigest()
            if h.get("x-hub-signature") != f"sha256={want}":
                problems.append(f"{sample['path']}: X-Hub-Signature does not verify")
            if h.get("content-type") != RSS_TYPE or h.get("link") != LINK:
                problems.append(f"{sample['path']}: headers {h}")
            if f"/stories/{code}" not in sample["body"]:
                problems.append(f"{sample['path']}: the new story is not in the document")
            if any(k.startswith("webhook-") for k in h):
                problems.append(f"{sample['path']}: Standard Webhooks headers on a websub POST")
    return problems, st


def run_one(bdb: BenchDB, port: int, kind: str, code: str) -> Run:
    from sqlalchemy import func, select

    from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber

    settings = bdb.settings()
    db, waker = publisher_db(settings)
    workers = []
    try:
        workers = start_workers(bdb.env(), 1)
        receiver_reset(port)
        wcpu0 = workers[0].cpu()
        busy0, total0 = machine_ticks()
        publish(db, settings, code, section=SECTIONS[kind])
        t_wall = time.time()
        started = time.monotonic()
        with db.read() as s:
            event_id = s.scalar(select(Event.id).where(Event.story_code == code))
        done = 0
        deadline = started + RUN_TIMEOUT
        while time.monotonic() < deadline:
            done = db.fetch_one(
                "SELECT count(*) FROM deliveries WHERE event_id = ? AND status = 'delivered'",
                [event_id],
            )[0]
            if done >= N_SUBSCRIBERS:
                break
            time.sleep(0.01)
        recorded = time.monotonic() - started
        busy1, total1 = machine_ticks()
        wcpu = workers[0].cpu() - wcpu0
        problems, st = check(port, kind, code)
        if done < N_SUBSCRIBERS:
            problems.append(f"only {done} delivered after {RUN_TIMEOUT:.0f} s")
        with db.read() as s:
            rows = s.execute(
                select(Subscriber.kind, Delivery.status, Delivery.attempts, func.count())
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.event_id == event_id)
                .group_by(Subscriber.kind, Delivery.status, Delivery.attempts)
            ).all()
            logged = s.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.event_id == event_id)
            )
            first_at = s.scalar(
                select(func.min(DeliveryAttempt.at))
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.event_id == event_id)
            )
            created = s.scalar(select(Event.created_at).where(Event.id == event_id))
        if rows != [(kind, "delivered", 1, N_SUBSCRIBERS)] or logged != N_SUBSCRIBERS:
            problems.append(f"deliveries {rows}, {logged} attempts logged")
        samples = st["samples"]
        body_bytes = len(samples[0]["body"].encode()) if samples else 0
        return Run(
            received=max(1e-6, float(st["last"]) - t_wall) if st["last"] else recorded,
            recorded=recorded,
            pickup=(first_at - created).total_seconds() if first_at and created else float("nan"),
            body_bytes=body_bytes,
            cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
            worker_cpu=wcpu,
            problems=problems,
        )
    finally:
        for worker in workers:
            worker.stop()
        waker.close()
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.websub_fanout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from bench.http_harness import bench_env, fmt_ratio, format_table, free_port
    from bench.push_fanout import Child
    from syndication.config import load_settings

    concurrency = load_settings({}, environ={}).push_concurrency
    t_start = time.monotonic()
    load_before = load_average()
    tmp = tempfile.TemporaryDirectory(prefix="bench-websub-")
    port = free_port()
    receiver = Child(
        "receiver",
        [sys.executable, "-m", "bench.push_fanout", "--receiver", str(port)],
        bench_env(),
        "receiver listening",
    )
    drops: list[object] = []
    failures: list[str] = []
    try:
        receiver.start()
        dbs = [BenchDB("SQLite", f"sqlite:///{tmp.name}/sqlite/syndication.db", f"{tmp.name}/s")]
        pg_note = "skipped (--no-postgres)"
        if not args.no_postgres:
            made = create_pg_database(args.postgres, suffix="_websub")
            if isinstance(made, str):
                pg_note = f"skipped: {made}"
            else:
                url, drop = made
                drops.append(drop)
                dbs.append(BenchDB("PostgreSQL", url, f"{tmp.name}/pg"))
                pg_note = ""
        for bdb in dbs:
            os.makedirs(bdb.instance, exist_ok=True)
            prepare(bdb, port)
        print(
            f"{N_SUBSCRIBERS:,} subscribers per kind and database, push_concurrency "
            f"{concurrency}, poll_interval {POLL_INTERVAL} s, 1 worker, {os.cpu_count()} CPUs, "
            f"load average {load_before}",
            flush=True,
        )
        configs = [(f"{b.label} {kind}", b, kind) for b in dbs for kind in ("webhook", "websub")]
        results: dict[str, list[Run]] = {name: [] for name, _, _ in configs}
        serial = 0
        for r in range(args.rounds):
            for name, bdb, kind in configs:
                serial += 1
                run = run_one(bdb, port, kind, f"bench-{serial}")
                results[name].append(run)
                flag = "ok" if not run.problems else "; ".join(run.problems)
                print(
                    f"  round {r + 1} {name:<20} all recorded {run.recorded * 1000:6.0f} ms, "
                    f"last received {run.received * 1000:6.0f} ms, {run.rate:6,.0f}/s, "
                    f"body {run.body_bytes:,} B  {flag}",
                    flush=True,
                )
                failures += [f"{name}: {p}" for p in run.problems]

        rows = []
        verdicts = []
        for name, bdb, kind in configs:
            runs = results[name]
            base = statistics.median(x.rate for x in results[f"{bdb.label} webhook"])
            rate = statistics.median(x.rate for x in runs)
            rows.append(
                [
                    name,
                    med([x.recorded * 1000 for x in runs], "{:.0f}"),
                    med([x.received * 1000 for x in runs], "{:.0f}"),
                    f"{rate:,.0f}",
                    "1.00x" if kind == "webhook" else fmt_ratio(rate, base),
                    med([x.pickup * 1000 for x in runs], "{:.0f}"),
                    f"{statistics.median(x.body_bytes for x in runs):,.0f}",
                    med([x.cpu_busy * 100 for x in runs], "{:.0f}%"),
                    med([x.worker_cpu for x in runs]),
                ]
            )
        print()
        print(
            f"One story -> {N_SUBSCRIBERS:,} subscribers of one channel, medians of "
            f"{args.rounds} interleaved rounds"
        )
        print(
            format_table(
                [
                    "fan-out",
                    "all recorded ms",
                    "last received ms",
                    "per s",
                    "vs webhook",
                    "pickup ms",
                    "body B",
                    "machine busy*",
                    "worker CPU s",
                ],
                rows,
            )
        )
        print(
            "  all recorded: publish commit -> every delivery row delivered (as push_fanout);"
            "\n  last received: -> the receiver's last POST; per s: 1,000 / all recorded;"
            "\n  pickup: event created -> first attempt; * all processes on the host."
        )
        print()
        for bdb in dbs:
            webhook = statistics.median(x.rate for x in results[f"{bdb.label} webhook"])
            websub = statistics.median(x.rate for x in results[f"{bdb.label} websub"])
            ok = websub >= TARGET * webhook
            verdicts.append(ok)
            print(
                f"{bdb.label}: WebSub {websub / webhook:.2f}x the webhook rate "
                f"(target >= {TARGET}x): {verdict(ok)}"
            )
        if pg_note:
            print(f"PostgreSQL: {pg_note}")
        if failures:
            print("VERIFICATION FAILED:\n  " + "\n  ".join(failures))
        else:
            print(
                "verified: every run 1,000 POSTs on 1,000 distinct paths, every delivery delivered "
                "with 1 attempt logged; 10 sampled WebSub notifications per run carry the RSS "
                "Content-Type, the Link header, a valid X-Hub-Signature and the new story"
            )
        print(
            f"total {time.monotonic() - t_start:.0f} s, load average {load_before} before, "
            f"{load_average()} after"
        )
        return 1 if failures or not all(verdicts) else 0
    finally:
        receiver.stop()
        for drop in drops:
            with contextlib.suppress(Exception):
                drop()  # type: ignore[operator]
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
