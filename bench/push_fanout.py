"""Partner push fan-out: one story to 1,000 webhook endpoints on a loopback receiver.

    .venv/bin/python -m bench.push_fanout                       # SQLite + PostgreSQL if it answers
    .venv/bin/python -m bench.push_fanout --postgres URL        # another PostgreSQL server
    .venv/bin/python -m bench.push_fanout --no-postgres --rounds 1

Everything on 127.0.0.1, whole run ~1-2 min. Printed from ONE run:

* The receiver: a separate process (its own GIL), a minimal asyncio HTTP/1.1 keep-alive server
  answering 204 to any POST, counting POSTs per path and keeping a sample of requests for the
  signature check. Its ceiling is measured alone first (wrk, POSTs of the same body).
* Baseline: a bare `requests` loop in this process, ThreadPoolExecutor(push_concurrency) and a
  pooled Session (pool_maxsize = push_concurrency), POSTing the same payload bytes to the same
  1,000 URLs: no signing, no database.
* Ours: 1,000 subscribers (``/hook/<n>``) inserted directly in a temp database; `syndication
  worker` process(es) already running with the default settings (poll_interval 1 s: the commit
  of the event wakes them, NOTIFY on PostgreSQL, a datagram on SQLite, as it wakes a production
  worker when a web process or an import publishes); one story is published (the outbox
  event) and the clock runs from the commit to the moment every delivery row is ``delivered``
  (polled every 10 ms). Deliveries/s = 1,000 / that time, so it includes the pick-up, the
  expansion into 1,000 deliveries, claiming, signing, sending and recording each attempt.
  On SQLite with one worker; on PostgreSQL with one and with two workers (a fresh event each).
* Rounds interleave baseline / SQLite / PG x1 / PG x2; medians per row. Targets: ours >= 0.6x
  the baseline (each database), PG two workers >= 1.6x one "where the cores allow".
* Every run is verified: the receiver saw exactly 1,000 POSTs, one on each of the 1,000 paths;
  a sample of 10 signatures verifies with the independent ``standardwebhooks`` package; every
  delivery row is ``delivered`` with attempts = 1 and exactly one DeliveryAttempt row.
* CPU: busy share of the machine (/proc/stat) and CPU seconds of the worker processes and the
  receiver during each run, to show what bounds the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
N_SUBSCRIBERS = 1000
SAMPLE_EVERY = 100  # keep the request of /hook/<n> for n % SAMPLE_EVERY == 7
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POLL_INTERVAL = "1"  # the default: the workers are woken by the commit
TARGET_RATIO = 0.6
TARGET_SCALE = 1.6
RUN_TIMEOUT = 30.0  # one fan-out must finish within this
BODY_PARAGRAPH = (
    "<p>The council voted on Tuesday evening to approve the new bridge across the river, "
    "ending a debate that has lasted for more than a decade. Residents on both banks "
    "welcomed the decision, while some shop owners worry about the two years of works.</p>"
)


# ==========================================================================
# the receiver (runs as `python -m bench.push_fanout --receiver PORT`)
# ==========================================================================


class _ReceiverState:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, int] = {}
        self.total = 0
        self.first = 0.0
        self.last = 0.0
        self.samples: list[dict[str, object]] = []

    def stats(self) -> bytes:
        return json.dumps(
            {
                "total": self.total,
                "distinct": len(self.counts),
                "max_per_path": max(self.counts.values(), default=0),
                "first": self.first,
                "last": self.last,
                "samples": self.samples,
                "cpu": time.process_time(),
            }
        ).encode()


class _HookProtocol(asyncio.Protocol):
    state: _ReceiverState

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(method, target, headers, body)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        st = self.state
        if target == "/_stats":
            out = st.stats()
            self.transport.write(  # type: ignore[attr-defined]
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(out)).encode()
                + b"\r\n\r\n"
                + out
            )
            return
        if target == "/_reset":
            st.reset()
        elif method == "POST":
            now = time.time()
            st.total += 1
            if not st.first:
                st.first = now
            st.last = now
            n = st.counts.get(target, 0) + 1
            st.counts[target] = n
            if n == 1 and target.startswith("/hook/"):
                tail = target.rsplit("/", 1)[1]
                if tail.isdigit() and int(tail) % SAMPLE_EVERY == 7:
                    st.samples.append(
                        {"path": target, "headers": headers, "body": body.decode("utf-8")}
                    )
        self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # type: ignore[attr-defined]


def serve_receiver(port: int) -> None:
    _HookProtocol.state = _ReceiverState()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_HookProtocol, HOST, port, backlog=1024)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        print(f"receiver listening on {HOST}:{port}", flush=True)
        async with server:
            await stop.wait()

    asyncio.run(run())


def _control(port: int, path: str) -> dict[str, object]:
    req = urllib.request.Request(f"http://{HOST}:{port}{path}")
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - 127.0.0.1 only
        data = resp.read()
    return json.loads(data) if data else {}


def receiver_stats(port: int) -> dict[str, object]:
    return _control(port, "/_stats")


def receiver_reset(port: int) -> None:
    _control(port, "/_reset")


# ==========================================================================
# processes, CPU accounting
# ==========================================================================


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: str  # a line its output prints once it is ready
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self, timeout: float = 30.0) -> Child:
        from bench.http_harness import REPO_ROOT

        fd, log = tempfile.mkstemp(prefix=f"bench-push-{self.name}-", suffix=".log")
        self.log = Path(log)
        with os.fdopen(fd, "wb") as fh:
            self.proc = subprocess.Popen(  # noqa: S603 - argv built here
                self.argv,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready in self.log.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.tail()
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{tail}")

    def tail(self, n: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else 0.0

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        self.proc = None
        if self.log is not None:
            with contextlib.suppress(FileNotFoundError):
                self.log.unlink()


# ==========================================================================
# databases
# ==========================================================================


@dataclass
class BenchDB:
    label: str
    url: str
    instance: str
    cleanup: list[object] = field(default_factory=list)

    def settings(self):  # type: ignore[no-untyped-def]
        from syndication.config import load_settings

        return load_settings(
            {
                "database_url": self.url,
                "instance_path": self.instance,
                "base_url": "http://news.example.test",
                "outbound_allow": HOST,
                "poll_interval": float(POLL_INTERVAL),
                "log_level": "WARNING",
            },
            environ={},
        )

    def env(self) -> dict[str, str]:
        from bench.http_harness import bench_env

        return bench_env(
            {
                "SYNDICATION_DATABASE_URL": self.url,
                "SYNDICATION_INSTANCE_PATH": self.instance,
                "SYNDICATION_BASE_URL": "http://news.example.test",
                "SYNDICATION_OUTBOUND_ALLOW": HOST,
                "SYNDICATION_POLL_INTERVAL": POLL_INTERVAL,
                "SYNDICATION_LOG_LEVEL": "WARNING",
            }
        )


def create_pg_database(server_url: str) -> tuple[str, object] | str:
    """A fresh database on that server: (its URL, a drop function), or why there is none."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = base.set(database=base.database or "postgres")
    name = f"bench_push_{os.getpid()}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure: no PostgreSQL rows
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def prepare(bdb: BenchDB, port: int) -> tuple[bytes, dict[int, str]]:
    """Migrate, publish one story to get the payload (marked dispatched before any subscriber
    exists), insert the 1,000 subscribers. Returns (payload bytes, {n: secret})."""
    from sqlalchemy import select

    from syndication.clock import utcnow
    from syndication.db import Database
    from syndication.models import Event, Subscriber
    from syndication.push.webhooks.payloads import payload_bytes
    from syndication.push.webhooks.signing import generate_secret

    settings = bdb.settings()
    db = Database(settings.db_url)
    db.migrate()
    publish(db, settings, "bench-payload")
    with db.write() as s:
        event = s.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
        event.dispatched_at = utcnow()
        payload = payload_bytes(event, Subscriber(format="json"), utcnow())
    secrets = {n: generate_secret() for n in range(N_SUBSCRIBERS)}
    now = utcnow()
    with db.write() as s:
        s.execute(
            Subscriber.__table__.insert(),
            [
                {
                    "kind": "webhook",
                    "name": f"partner {n}",
                    "url": f"http://{HOST}:{port}/hook/{n}",
                    "secret": secrets[n],
                    "event_types": [],
                    "channels": [],
                    "filter": {},
                    "format": "json",
                    "headers": {},
                    "active": True,
                    "created_at": now,
                }
                for n in range(N_SUBSCRIBERS)
            ],
        )
    db.dispose()
    return payload, secrets


def publish(db, settings, code: str) -> None:  # type: ignore[no-untyped-def]
    from syndication.clock import utcnow
    from syndication.stories.service import create_story

    data = {
        "code": code,
        "title": "Council approves the new bridge after a decade of debate",
        "summary": "The vote ends a long debate; works start next spring and last two years.",
        "body_html": BODY_PARAGRAPH * 8,
        "status": "published",
        "section": "Local",
        "tags": ["bridge", "council", "transport"],
        "authors": ["A. Reporter"],
    }
    with db.write() as s:
        create_story(s, settings, data, now=utcnow())


# ==========================================================================
# one measured run
# ==========================================================================


@dataclass
class Run:
    seconds: float  # start (publish commit / first request) -> last delivery recorded
    pickup: float = float("nan")  # publish -> first attempt (ours)
    cpu_busy: float = float("nan")  # machine busy share, 0..1
    worker_cpu: float = float("nan")  # CPU seconds of the worker process(es)
    receiver_cpu: float = float("nan")
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return N_SUBSCRIBERS / self.seconds


def check_receiver(port: int, secrets: dict[int, str] | None) -> tuple[list[str], float]:
    """Problems with the receiver's counts (and sample signatures), and its CPU seconds."""
    from standardwebhooks import Webhook

    st = receiver_stats(port)
    problems = []
    if st["total"] != N_SUBSCRIBERS or st["distinct"] != N_SUBSCRIBERS or st["max_per_path"] != 1:
        problems.append(
            f"receiver: {st['total']} POSTs on {st['distinct']} paths (max {st['max_per_path']} "
            f"per path), expected {N_SUBSCRIBERS} on {N_SUBSCRIBERS}"
        )
    if secrets is not None:
        samples = st["samples"]
        if len(samples) != N_SUBSCRIBERS // SAMPLE_EVERY:  # type: ignore[arg-type]
            problems.append(f"receiver kept {len(samples)} samples")  # type: ignore[arg-type]
        for sample in samples:  # type: ignore[union-attr]
            n = int(sample["path"].rsplit("/", 1)[1])
            try:
                Webhook(secrets[n]).verify(sample["body"], sample["headers"])
            except Exception as exc:  # noqa: BLE001 - the library's verification error
                problems.append(f"signature of {sample['path']} does not verify: {exc}")
    return problems, float(st["cpu"])  # type: ignore[arg-type]


def run_baseline(port: int, payload: bytes, concurrency: int) -> Run:
    import requests
    from requests.adapters import HTTPAdapter

    receiver_reset(port)
    urls = [f"http://{HOST}:{port}/hook/{n}" for n in range(N_SUBSCRIBERS)]
    rcpu0 = receiver_stats(port)["cpu"]
    busy0, total0 = machine_ticks()
    http = requests.Session()
    adapter = HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency, max_retries=0)
    http.mount("http://", adapter)
    headers = {"Content-Type": "application/json"}

    def post(url: str) -> int:
        resp = http.post(url, data=payload, headers=headers, timeout=(5, 15))
        resp.close()
        return resp.status_code

    cpu0 = time.process_time()
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(post, urls))
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu0
    busy1, total1 = machine_ticks()
    http.close()
    problems, rcpu1 = check_receiver(port, None)
    bad = [c for c in codes if c != 204]
    if bad:
        problems.append(f"baseline: {len(bad)} answers not 204")
    return Run(
        seconds,
        cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
        worker_cpu=cpu,
        receiver_cpu=rcpu1 - float(rcpu0),  # type: ignore[arg-type]
        problems=problems,
    )


def run_ours(bdb: BenchDB, port: int, secrets: dict[int, str], workers: int, code: str) -> Run:
    from sqlalchemy import func, select

    from bench.http_harness import venv_tool
    from syndication.db import Database
    from syndication.models import Delivery, DeliveryAttempt, Event

    settings = bdb.settings()
    db = Database(settings.db_url)
    children = [
        Child(f"worker{i}", [venv_tool("syndication"), "worker"], bdb.env(), "worker running")
        for i in range(workers)
    ]
    try:
        for child in children:
            child.start()
        time.sleep(0.3)  # let the first (empty) poll of each worker pass
        receiver_reset(port)
        rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
        wcpu0 = sum(c.cpu() for c in children)
        busy0, total0 = machine_ticks()
        publish(db, settings, code)
        started = time.monotonic()
        with db.read() as s:
            event_id = s.scalar(select(Event.id).where(Event.story_code == code))
        deadline = started + RUN_TIMEOUT
        done = 0
        while time.monotonic() < deadline:
            done = db.fetch_one(
                "SELECT count(*) FROM deliveries WHERE event_id = ? AND status = 'delivered'",
                [event_id],
            )[0]
            if done >= N_SUBSCRIBERS:
                break
            time.sleep(0.01)
        seconds = time.monotonic() - started
        busy1, total1 = machine_ticks()
        wcpu = sum(c.cpu() for c in children) - wcpu0
        problems, rcpu1 = check_receiver(port, secrets)
        if done < N_SUBSCRIBERS:
            problems.append(f"only {done} delivered after {RUN_TIMEOUT:.0f} s")
        with db.read() as s:
            rows = s.execute(
                select(Delivery.status, Delivery.attempts, func.count())
                .where(Delivery.event_id == event_id)
                .group_by(Delivery.status, Delivery.attempts)
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
        if rows != [("delivered", 1, N_SUBSCRIBERS)] or logged != N_SUBSCRIBERS:
            problems.append(f"deliveries {rows}, {logged} attempts logged")
        pickup = (first_at - created).total_seconds() if first_at and created else float("nan")
        return Run(
            seconds,
            pickup=pickup,
            cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
            worker_cpu=wcpu,
            receiver_cpu=rcpu1 - rcpu0,
            problems=problems,
        )
    finally:
        for child in children:
            child.stop()
        db.dispose()


# ==========================================================================
# receiver ceiling
# ==========================================================================


def receiver_ceiling(port: int, payload: bytes, seconds: float = 3.0) -> float:
    """Requests/s of the receiver alone: wrk (one thread, 16 connections) POSTing the payload."""
    from bench.http_harness import wrk_binary

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(payload.decode('utf-8'))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        script = fh.name
    try:
        out = subprocess.run(  # noqa: S603 - argv built here
            [
                wrk_binary(),
                "-t1",
                "-c16",
                f"-d{seconds:g}s",
                "-s",
                script,
                f"http://{HOST}:{port}/hook/ceiling",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    receiver_reset(port)
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"wrk output not understood:\n{out}")


# ==========================================================================
# main
# ==========================================================================


def fmt_rate(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f}" if values else "n/a"


def med(values: list[float], fmt: str = "{:.2f}") -> str:
    values = [v for v in values if v == v]
    return fmt.format(statistics.median(values)) if values else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.push_fanout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)  # receiver process mode
    args = parser.parse_args(argv)
    if args.receiver:
        serve_receiver(args.receiver)
        return 0

    from bench.http_harness import bench_env, fmt_ratio, format_table, free_port
    from syndication.config import load_settings

    concurrency = load_settings({}, environ={}).push_concurrency
    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-push-")
    port = free_port()
    receiver = Child(
        "receiver",
        [sys.executable, "-m", "bench.push_fanout", "--receiver", str(port)],
        bench_env(),
        "receiver listening",
    )
    dbs: list[BenchDB] = []
    drops: list[object] = []
    failures: list[str] = []
    try:
        receiver.start()
        sqlite_db = BenchDB(
            "SQLite", f"sqlite:///{tmp.name}/sqlite/syndication.db", f"{tmp.name}/sqlite"
        )
        dbs.append(sqlite_db)
        pg_note = "skipped (--no-postgres)"
        if not args.no_postgres:
            made = create_pg_database(args.postgres)
            if isinstance(made, str):
                pg_note = f"skipped: {made}"
            else:
                url, drop = made
                drops.append(drop)
                dbs.append(BenchDB("PostgreSQL", url, f"{tmp.name}/pg"))
                pg_note = ""
        payloads, secrets = {}, {}
        for bdb in dbs:
            payloads[bdb.label], secrets[bdb.label] = prepare(bdb, port)
        payload = payloads["SQLite"]
        print(
            f"1,000 subscribers per database, payload {len(payload):,} bytes, "
            f"push_concurrency {concurrency}, poll_interval {POLL_INTERVAL} s, "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        ceiling = receiver_ceiling(port, payload)
        print(f"receiver alone (wrk -t1 -c16, POST {len(payload)} B): {ceiling:,.0f} req/s")

        configs: list[tuple[str, BenchDB | None, int]] = [("baseline", None, 0)]
        configs.append(("SQLite, 1 worker", sqlite_db, 1))
        if len(dbs) > 1:
            configs += [("PostgreSQL, 1 worker", dbs[1], 1), ("PostgreSQL, 2 workers", dbs[1], 2)]
        results: dict[str, list[Run]] = {name: [] for name, _, _ in configs}
        serial = 0
        for r in range(args.rounds):
            for name, bdb, workers in configs:
                if bdb is None:
                    run = run_baseline(port, payload, concurrency)
                else:
                    serial += 1
                    run = run_ours(bdb, port, secrets[bdb.label], workers, f"bench-{serial}")
                results[name].append(run)
                flag = "ok" if not run.problems else "; ".join(run.problems)
                print(
                    f"  round {r + 1} {name:<22} {run.seconds * 1000:7.0f} ms "
                    f"{run.rate:7,.0f} deliveries/s  {flag}",
                    flush=True,
                )
                failures += [f"{name}: {p}" for p in run.problems]

        base = statistics.median(x.rate for x in results["baseline"])
        rows = []
        for name, bdb, _ in configs:
            runs = results[name]
            rate = statistics.median(x.rate for x in runs)
            rows.append(
                [
                    name,
                    med([x.seconds * 1000 for x in runs], "{:.0f}"),
                    fmt_rate([x.rate for x in runs]),
                    "1.00x" if bdb is None else fmt_ratio(rate, base),
                    med([x.pickup * 1000 for x in runs], "{:.0f}"),
                    med([x.cpu_busy * 100 for x in runs], "{:.0f}%"),
                    med([x.worker_cpu for x in runs]),
                    med([x.receiver_cpu for x in runs]),
                ]
            )
        print()
        print(
            f"One story -> {N_SUBSCRIBERS:,} endpoints, medians of {args.rounds} interleaved "
            f"rounds (receiver ceiling {ceiling:,.0f} req/s)"
        )
        print(
            format_table(
                [
                    "sender",
                    "ms",
                    "deliveries/s",
                    "vs bare",
                    "pickup ms",
                    "machine busy*",
                    "sender CPU s",
                    "receiver CPU s",
                ],
                rows,
            )
        )
        print(
            "  ms: publish commit (baseline: first request) -> every delivery recorded delivered;"
            "\n  pickup: event created -> first attempt (wake-up + expansion + first claim);"
            "\n  sender CPU: the bench process (baseline) or the worker process(es) (ours);"
            "\n  * machine busy: all processes on the host, whoever started them."
        )
        verdicts = []
        for name, bdb, _ in configs:
            if bdb is None:
                continue
            rate = statistics.median(x.rate for x in results[name])
            ok = rate >= TARGET_RATIO * base
            verdicts.append(ok)
            print(
                f"{name}: {rate / base:.2f}x the bare requests loop "
                f"(target >= {TARGET_RATIO}x): {'PASS' if ok else 'FAIL'}"
            )
        if len(dbs) > 1:
            one = statistics.median(x.rate for x in results["PostgreSQL, 1 worker"])
            two = statistics.median(x.rate for x in results["PostgreSQL, 2 workers"])
            ok = two >= TARGET_SCALE * one
            print(
                f"PostgreSQL two workers / one: {two / one:.2f}x (target >= {TARGET_SCALE}x where "
                f"the cores allow; {os.cpu_count()} CPUs shared with the receiver, PostgreSQL "
                f"and this process): {'PASS' if ok else 'FAIL'}"
            )
        else:
            print(f"PostgreSQL: {pg_note}")
        if failures:
            print("VERIFICATION FAILED:\n  " + "\n  ".join(failures))
        else:
            print(
                "verified: every run 1,000 POSTs on 1,000 distinct paths; 10 sampled signatures "
                "verify with standardwebhooks; every delivery delivered, 1 attempt logged each"
            )
        print(f"total {time.monotonic() - t_start:.0f} s")
        return 1 if failures or not all(verdicts) else 0
    finally:
        receiver.stop()
        for drop in drops:
            with contextlib.suppress(Exception):
                drop()  # type: ignore[operator]
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
