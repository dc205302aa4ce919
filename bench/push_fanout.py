"""Partner push fan-out: one story to 1,000 webhook endpoints on a loopback receiver, signed and
logged, against the bare client loops it must beat, in one run.

    .venv/bin/python -m bench.push_fanout                       # SQLite + PostgreSQL if it answers
    .venv/bin/python -m bench.push_fanout --rounds 3            # the default
    .venv/bin/python -m bench.push_fanout --postgres URL        # another PostgreSQL server
    .venv/bin/python -m bench.push_fanout --no-postgres --no-trickle --rounds 1   # quick look

Everything on 127.0.0.1; ~3-4 min with the trickle rounds (each waits for the engine's
deadline). Printed from ONE run, rounds interleaved, medians per row. Every sender is timed in
its steady state: each timed fan-out follows an untimed one by the same sender (the same
Session / ClientSession, the same running workers), so connections are open and code paths
warm for all of them alike, as in a service that has been running:

* The receiver: a separate process (its own GIL), a minimal asyncio HTTP/1.1 keep-alive server
  answering 204 to any POST on ``/hook/<n>``, counting POSTs per path and keeping a sample of
  requests for the signature check. ``/hook/<n>/trickle`` reads the request, then answers one
  byte per second and never finishes (a status line, then one header line that grows); it
  stops when the client closes the connection, or closes it itself after TRICKLE_CAP seconds,
  and counts which happened. Its ceiling is measured alone first (wrk, POSTs of the same body).
* Baseline A (today's anchor): a bare `requests` loop in this process, ThreadPoolExecutor(32)
  and one pooled Session (pool_maxsize 32), POSTing the same payload bytes to the same 1,000
  URLs: no signing, no database.
* Baseline B (the limit): the fastest bare Python loop: aiohttp in this process, one
  ClientSession, POSTing the same bytes; variants of connector limit / concurrency (256/256,
  512/512, 1000 all at once) run every round, and the fastest by median is B.
* Ours: 1,000 subscribers (``/hook/<n>``) inserted directly in a temp database; `syndication
  worker` process(es) already running with the default settings (push_concurrency 256,
  poll_interval 1 s: the commit of the event wakes them, NOTIFY on PostgreSQL, a datagram on
  SQLite, as a production worker is woken when a web process or an import publishes); one
  story is published (the outbox event) and the clock runs from the commit to the moment the
  1,000th delivery row reads ``delivered`` (polled every 10 ms). Deliveries/s = 1,000 / that
  time, so it includes the pick-up, the expansion into 1,000 deliveries, claiming, signing,
  sending, and recording each attempt. SQLite with one worker; PostgreSQL with one and with two
  workers (fresh worker processes each run, which first deliver an untimed story).
* Trickle (ours, SQLite and PostgreSQL, one worker): 1,000 subscribers of which 100 (every
  n % 10 == 3) trickle (``/hook/<n>/trickle``: in URL order and in id order they are spread
  among the healthy ones, as the engine meets them); timed from the commit until the 900
  healthy deliveries are ``delivered``, against the all-healthy time of the same database in
  the same run. Each trickle round has its own fresh database (made before the rounds) and a
  fresh worker (its untimed story goes out before the trickling subscribers are switched on):
  after the timing, the run waits until the engine's deadline (outbound_timeout,
  15 s) has cut the 100 trickling requests and logged them as timeouts, then stops the worker
  (SIGTERM: up to 5 s for requests in flight, such as retries of the cut ones, then they are
  abandoned, leased, in a database no later round uses) and checks that the client closed
  every trickling connection and none is left open.
* Ratios, each with PASS/FAIL: ours / A >= 2x, ours / B >= 0.5x (each configuration), PostgreSQL
  two workers / one >= 1.6x, trickle / healthy time <= 1.5x (each database).
* Every run is verified: the receiver saw exactly one POST on each of the 1,000 paths (trickle
  runs: on each of the 900 healthy ones, and at least one on each of the 100 trickling ones);
  10 sampled signatures verify with the independent ``standardwebhooks`` package; every
  delivery is ``delivered`` with attempts = 1 and exactly one DeliveryAttempt row (trickle: the
  100 slow ones pending, one attempt each, logged as a timeout after about outbound_timeout
  seconds).
* CPU: busy share of the machine (/proc/stat) and CPU seconds of the sender (this process for
  the baselines, the worker processes for ours) and of the receiver during each run, to show
  what bounds the rate. The load average before and after is printed: on a shared machine the
  absolute numbers move, the ratios of one run much less.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
N_SUBSCRIBERS = 1000
SAMPLE_EVERY = 100  # keep the request of /hook/<n> for n % SAMPLE_EVERY == 7
SLOW_EVERY = 10  # trickle rounds: /hook/<n>/trickle for n % SLOW_EVERY == 3 (100 of 1,000)
SLOW_SUFFIX = "/trickle"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POLL_INTERVAL = "1"  # the default: the workers are woken by the commit
BASELINE_A_THREADS = 32
# Baseline B variants: (label, connector limit, requests in flight; 0 = all at once).
BASELINE_B_VARIANTS = [
    ("aiohttp limit 256, 256 in flight", 256, 256),
    ("aiohttp limit 512, 512 in flight", 512, 512),
    ("aiohttp limit 1000, all at once", 1000, 0),
]
TARGET_VS_A = 2.0
TARGET_VS_B = 0.5
TARGET_SCALE = 1.6
TARGET_TRICKLE = 1.5
RUN_TIMEOUT = 30.0  # one fan-out must finish within this
TRICKLE_EVERY = 1.0  # seconds between two bytes of a trickled answer
TRICKLE_CAP = 90.0  # the receiver closes a trickling connection itself after this long
BODY_PARAGRAPH = (
    "<p>The council voted on Tuesday evening to approve the new bridge across the river, "
    "ending a debate that has lasted for more than a decade. Residents on both banks "
    "welcomed the decision, while some shop owners worry about the two years of works.</p>"
)


def is_slow(n: int) -> bool:
    return n % SLOW_EVERY == 3


# ==========================================================================
# the receiver (runs as `python -m bench.push_fanout --receiver PORT`)
# ==========================================================================


class _ReceiverState:
    def __init__(self) -> None:
        # Trickling connections outlive a reset: they are counted until they close.
        self.trickling: set[_HookProtocol] = set()
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, int] = {}  # /hook/<n> (and anything else but the trickling)
        self.slow_counts: dict[str, int] = {}  # /hook/<n>/trickle
        self.total = 0
        self.first = 0.0
        self.last = 0.0
        self.samples: list[dict[str, object]] = []
        self.slow_cut: list[float] = []  # seconds each trickle lasted until the client closed it
        self.slow_capped = 0  # trickles the receiver had to close itself

    def stats(self) -> bytes:
        return json.dumps(
            {
                "total": self.total,
                "distinct": len(self.counts),
                "max_per_path": max(self.counts.values(), default=0),
                "slow_total": sum(self.slow_counts.values()),
                "slow_distinct": len(self.slow_counts),
                "slow_max_per_path": max(self.slow_counts.values(), default=0),
                "slow_open": len(self.trickling),
                "slow_cut": self.slow_cut,
                "slow_capped": self.slow_capped,
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
        self.trickle: asyncio.TimerHandle | None = None
        self.trickle_started = 0.0
        self.trickle_head = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.state.trickling:
            self.state.trickling.discard(self)
            self.state.slow_cut.append(time.monotonic() - self.trickle_started)
        if self.trickle is not None:
            self.trickle.cancel()

    def data_received(self, data: bytes) -> None:
        if self.trickle is not None:
            return  # trickling an answer: nothing else on this connection
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
            if self.trickle is not None:
                return

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
        elif method == "POST" and target.endswith(SLOW_SUFFIX):
            st.slow_counts[target] = st.slow_counts.get(target, 0) + 1
            st.trickling.add(self)
            self.trickle_started = time.monotonic()
            # A status line, then a header line that never ends: no client can finish it.
            self.trickle_head = b"HTTP/1.1 200 OK\r\nX-Trickle: "
            self._tick()
            return
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

    def _tick(self) -> None:
        transport = self.transport
        if transport.is_closing():
            return
        if time.monotonic() - self.trickle_started >= TRICKLE_CAP:
            self.state.trickling.discard(self)
            self.state.slow_capped += 1
            transport.close()
            return
        byte, self.trickle_head = (self.trickle_head[:1] or b"a"), self.trickle_head[1:]
        transport.write(byte)  # type: ignore[attr-defined]
        self.trickle = asyncio.get_running_loop().call_later(TRICKLE_EVERY, self._tick)


def serve_receiver(port: int) -> None:
    _HookProtocol.state = _ReceiverState()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_HookProtocol, HOST, port, backlog=2048)
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


def pg_backends_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL server process serving `database` (its backends, by their
    process title), plus the server's WAL writer (each commit's flush), by pid; {} when the
    server is not on this machine."""
    if not database:
        return {}
    found: dict[int, float] = {}
    wanted = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and (wanted in title or b"walwriter" in title):
            found[int(entry.name)] = proc_cpu(int(entry.name))
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


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

    def stop(self, timeout: float = 15.0) -> float:
        """SIGTERM, then SIGKILL after `timeout` s; returns how long the process took to exit."""
        if self.proc is None:
            return 0.0
        started = time.monotonic()
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
        took = time.monotonic() - started
        self.proc = None
        if self.log is not None:
            with contextlib.suppress(FileNotFoundError):
                self.log.unlink()
        return took


def start_workers(env: dict[str, str], count: int) -> list[Child]:
    from bench.http_harness import venv_tool

    children = [
        Child(f"worker{i}", [venv_tool("syndication"), "worker"], env, "worker running")
        for i in range(count)
    ]
    try:
        for child in children:
            child.start()
    except BaseException:
        for child in children:
            child.stop()
        raise
    time.sleep(0.3)  # let the first (empty) poll of each worker pass
    return children


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


def create_pg_database(server_url: str, suffix: str = "") -> tuple[str, Callable[[], None]] | str:
    """A fresh database on that server: (its URL, a drop function), or why there is none."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = base.set(database=base.database or "postgres")
    name = f"bench_push_{os.getpid()}{suffix}"
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


def prepare(bdb: BenchDB, port: int, slow: bool = False) -> tuple[bytes, dict[int, str]]:
    """Migrate, publish one story to get the payload (marked dispatched before any subscriber
    exists), insert the 1,000 subscribers (with `slow`, every n % 10 == 3 trickles).
    Returns (payload bytes, {n: secret})."""
    from sqlalchemy import select

    from syndication.clock import utcnow
    from syndication.db import Database
    from syndication.models import Event, Subscriber
    from syndication.push.webhooks.payloads import payload_bytes
    from syndication.push.webhooks.signing import generate_secret

    os.makedirs(bdb.instance, exist_ok=True)
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
                    "url": f"http://{HOST}:{port}/hook/{n}"
                    + (SLOW_SUFFIX if slow and is_slow(n) else ""),
                    "secret": secrets[n],
                    "event_types": [],
                    "channels": [],
                    "filter": {},
                    "format": "json",
                    "headers": {},
                    # Trickling ones are switched on after the run's untimed warm-up story.
                    "active": not (slow and is_slow(n)),
                    "created_at": now,
                }
                for n in range(N_SUBSCRIBERS)
            ],
        )
    db.dispose()
    return payload, secrets


def publish(db, settings, code: str, section: str = "Local") -> None:  # type: ignore[no-untyped-def]
    from syndication.clock import utcnow
    from syndication.stories.service import create_story

    data = {
        "code": code,
        "title": "Council approves the new bridge after a decade of debate",
        "summary": "The vote ends a long debate; works start next spring and last two years.",
        "body_html": BODY_PARAGRAPH * 8,
        "status": "published",
        "section": section,
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
    seconds: float  # start (publish commit / first request) -> last (healthy) delivery recorded
    count: int = N_SUBSCRIBERS  # deliveries timed
    pickup: float = float("nan")  # publish -> first attempt (ours)
    cpu_busy: float = float("nan")  # machine busy share, 0..1
    worker_cpu: float = float("nan")  # CPU seconds of the sender (bench process or workers)
    receiver_cpu: float = float("nan")
    cut_after: float = float("nan")  # trickle: median logged latency of the cut requests, s
    stop_seconds: float = float("nan")  # trickle: how long the worker took to stop
    slow_posts: int = 0  # trickle: POSTs the trickling endpoints received (retries included)
    problems: list[str] = field(default_factory=list)
    each_worker_cpu: list[float] = field(default_factory=list)  # ours: CPU s per worker
    db_cpu: float = float("nan")  # ours on PostgreSQL: its backends' (and WAL writer's) CPU s
    poller_cpu: float = float("nan")  # ours: this process (the publish and the 10 ms poll)

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def check_receiver(
    port: int, secrets: dict[int, str] | None, hooks: int = N_SUBSCRIBERS, slow: int = 0
) -> tuple[list[str], dict]:
    """Problems with the receiver's counts (and sample signatures), and its stats."""
    from standardwebhooks import Webhook

    st = receiver_stats(port)
    problems = []
    if st["total"] != hooks or st["distinct"] != hooks or st["max_per_path"] != 1:
        problems.append(
            f"receiver: {st['total']} POSTs on {st['distinct']} paths (max {st['max_per_path']} "
            f"per path), expected {hooks} on {hooks}"
        )
    # A trickling endpoint may have been tried again once cut (the run reports how often).
    if slow and st["slow_distinct"] != slow:
        problems.append(
            f"receiver: {st['slow_total']} POSTs on {st['slow_distinct']} trickling paths, "
            f"expected at least one on each of {slow}"
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
    return problems, st


def run_baseline_a(port: int, payload: bytes) -> Run:
    """Bare `requests`: ThreadPoolExecutor(32), one Session pooled to 32 connections."""
    import requests
    from requests.adapters import HTTPAdapter

    receiver_reset(port)
    urls = [f"http://{HOST}:{port}/hook/{n}" for n in range(N_SUBSCRIBERS)]
    rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
    http = requests.Session()
    adapter = HTTPAdapter(
        pool_connections=BASELINE_A_THREADS, pool_maxsize=BASELINE_A_THREADS, max_retries=0
    )
    http.mount("http://", adapter)
    headers = {"Content-Type": "application/json"}

    def post(url: str) -> int:
        resp = http.post(url, data=payload, headers=headers, timeout=(5, 15))
        resp.close()
        return resp.status_code

    # Steady state, as for every sender here: one untimed fan-out first (connections open,
    # code paths warm), then the timed one.
    with ThreadPoolExecutor(BASELINE_A_THREADS) as pool:
        list(pool.map(post, urls))
    receiver_reset(port)
    rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
    busy0, total0 = machine_ticks()
    cpu0 = time.process_time()
    started = time.monotonic()
    with ThreadPoolExecutor(BASELINE_A_THREADS) as pool:
        codes = list(pool.map(post, urls))
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu0
    busy1, total1 = machine_ticks()
    http.close()
    problems, st = check_receiver(port, None)
    bad = [c for c in codes if c != 204]
    if bad:
        problems.append(f"baseline A: {len(bad)} answers not 204")
    return Run(
        seconds,
        cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
        worker_cpu=cpu,
        receiver_cpu=float(st["cpu"]) - rcpu0,
        problems=problems,
    )


def run_baseline_b(port: int, payload: bytes, limit: int, in_flight: int) -> Run:
    """Bare aiohttp: one ClientSession, TCPConnector(limit), at most `in_flight` requests at a
    time (0: all 1,000 started at once), each response read to the end."""
    import aiohttp

    receiver_reset(port)
    urls = [f"http://{HOST}:{port}/hook/{n}" for n in range(N_SUBSCRIBERS)]
    rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
    headers = {"Content-Type": "application/json"}

    async def main() -> tuple[float, list[int]]:
        connector = aiohttp.TCPConnector(limit=limit)
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            gate = asyncio.Semaphore(in_flight) if in_flight else contextlib.nullcontext()

            async def post(url: str) -> int:
                async with gate:  # type: ignore[attr-defined]
                    async with session.post(url, data=payload, headers=headers) as resp:
                        await resp.read()
                        return resp.status

            await asyncio.gather(*(post(u) for u in urls))  # untimed: steady state
            warm.set()
            await asyncio.to_thread(timed.wait)
            started = time.monotonic()
            codes = await asyncio.gather(*(post(u) for u in urls))
            return time.monotonic() - started, codes

    import threading

    warm, timed = threading.Event(), threading.Event()
    box: list[tuple[float, list[int]]] = []
    runner = threading.Thread(target=lambda: box.append(asyncio.run(main())))
    runner.start()
    warm.wait()
    receiver_reset(port)
    rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
    busy0, total0 = machine_ticks()
    cpu0 = time.process_time()
    timed.set()
    runner.join()
    seconds, codes = box[0]
    cpu = time.process_time() - cpu0
    busy1, total1 = machine_ticks()
    problems, st = check_receiver(port, None)
    bad = [c for c in codes if c != 204]
    if bad:
        problems.append(f"baseline B: {len(bad)} answers not 204")
    return Run(
        seconds,
        cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
        worker_cpu=cpu,
        receiver_cpu=float(st["cpu"]) - rcpu0,
        problems=problems,
    )


def _delivered(db, event_id: int) -> int:  # type: ignore[no-untyped-def]
    return db.fetch_one(
        "SELECT count(*) FROM deliveries WHERE event_id = ? AND status = 'delivered'", [event_id]
    )[0]


def run_ours(
    bdb: BenchDB,
    port: int,
    secrets: dict[int, str],
    workers: int,
    code: str,
    *,
    trickle: bool = False,
) -> Run:
    """Fresh worker process(es); publish; time the commit -> every (healthy) delivery delivered.
    With `trickle` (a database prepared with slow subscribers), then wait for the engine to cut
    the trickling requests, stop the worker and check that no trickling connection is left."""
    from sqlalchemy import select, update

    from syndication.models import Event, Subscriber

    settings = bdb.settings()
    slow_ns = {n for n in range(N_SUBSCRIBERS) if trickle and is_slow(n)}
    healthy = N_SUBSCRIBERS - len(slow_ns)
    db, waker = publisher_db(settings)
    children: list[Child] = []
    try:
        children = start_workers(bdb.env(), workers)
        # Steady state, as for the baselines: the workers first deliver an untimed story (their
        # code paths warm, connections open; the trickling subscribers are not active yet).
        publish(db, settings, f"{code}-warm")
        with db.read() as s:
            warm_id = s.scalar(select(Event.id).where(Event.story_code == f"{code}-warm"))
        warm_deadline = time.monotonic() + RUN_TIMEOUT
        while _delivered(db, warm_id) < healthy and time.monotonic() < warm_deadline:
            time.sleep(0.01)
        if slow_ns:
            with db.write() as s:
                s.execute(update(Subscriber).values(active=True))
        receiver_reset(port)
        rcpu0 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
        each0 = [c.cpu() for c in children]
        database = None if bdb.url.startswith("sqlite") else bdb.url.rsplit("/", 1)[1]
        db0 = pg_backends_cpu(database)
        own0 = time.process_time()
        busy0, total0 = machine_ticks()
        publish(db, settings, code)
        started = time.monotonic()
        with db.read() as s:
            event_id = s.scalar(select(Event.id).where(Event.story_code == code))
        deadline = started + RUN_TIMEOUT
        done = 0
        while time.monotonic() < deadline:
            done = _delivered(db, event_id)
            if done >= healthy:
                break
            time.sleep(0.01)
        seconds = time.monotonic() - started
        busy1, total1 = machine_ticks()
        own = time.process_time() - own0
        each = [c.cpu() - c0 for c, c0 in zip(children, each0, strict=True)]
        db_cpu = cpu_delta(db0, pg_backends_cpu(database)) if database else float("nan")
        rcpu1 = float(receiver_stats(port)["cpu"])  # type: ignore[arg-type]
        run = Run(
            seconds,
            count=healthy,
            cpu_busy=(busy1 - busy0) / max(1, total1 - total0),
            worker_cpu=sum(each),
            receiver_cpu=rcpu1 - rcpu0,
            each_worker_cpu=each,
            db_cpu=db_cpu,
            poller_cpu=own,
        )
        if done < healthy:
            run.problems.append(f"only {done} delivered after {RUN_TIMEOUT:.0f} s")
        if trickle:
            # The engine cuts each trickling request at its deadline and logs it as a timeout;
            # wait for the 100 to be logged, then stop the worker (SIGTERM: it waits up to 5 s
            # for requests in flight, e.g. retries of the cut ones, then abandons them, still
            # leased, in this round's own database, which no later round uses).
            cut_deadline = started + settings.outbound_timeout + 15
            attempted = 0
            while time.monotonic() < cut_deadline:
                attempted = db.fetch_one(
                    "SELECT count(*) FROM deliveries WHERE event_id = ? AND attempts > 0 "
                    "AND status <> 'delivered'",
                    [event_id],
                )[0]
                if attempted >= len(slow_ns):
                    break
                time.sleep(0.1)
            run.stop_seconds = max(c.stop() for c in children)
            children = []
            left = -1
            for _ in range(50):  # the receiver sees the client's close at once; allow 5 s
                left = int(receiver_stats(port)["slow_open"])  # type: ignore[arg-type]
                if left == 0:
                    break
                time.sleep(0.1)
            if left:
                run.problems.append(f"{left} trickling connections still open after the stop")
        problems, st = check_receiver(port, secrets, hooks=healthy, slow=len(slow_ns))
        run.problems += problems
        if trickle:
            run.slow_posts = int(st["slow_total"])  # type: ignore[arg-type]
            cut = st["slow_cut"]
            if len(cut) != run.slow_posts or st["slow_capped"]:  # type: ignore[arg-type]
                run.problems.append(
                    f"of {run.slow_posts} trickling requests {len(cut)} were closed by the "  # type: ignore[arg-type]
                    f"client, {st['slow_capped']} by the receiver's cap"
                )
        run.problems += verify_deliveries(db, event_id, slow_ns, settings.outbound_timeout, run)
        return run
    finally:
        for child in children:
            child.stop()
        waker.close()
        db.dispose()


def publisher_db(settings):  # type: ignore[no-untyped-def]
    """The database as a web process holds it: with its push Waker, so that the publish
    commit wakes the workers (a datagram on SQLite, NOTIFY on PostgreSQL) as in production.
    Without it nothing wakes them and each run waits for their next poll."""
    from syndication.db import Database
    from syndication.push.wake import Waker

    db = Database(settings.db_url)
    return db, Waker(db)


def verify_deliveries(  # type: ignore[no-untyped-def]
    db, event_id: int, slow_ns: set[int], timeout: float, run: Run
) -> list[str]:
    """Every healthy delivery delivered with one attempt logged; every slow one (trickle)
    pending with one attempt logged as a timeout after about `timeout` seconds."""
    from sqlalchemy import func, select

    from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber

    with db.read() as s:
        rows = s.execute(
            select(Subscriber.url, Delivery.status, Delivery.attempts, Delivery.last_error)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.event_id == event_id)
        ).all()
        logs = s.execute(
            select(Subscriber.url, DeliveryAttempt.status_code, DeliveryAttempt.latency_ms)
            .select_from(DeliveryAttempt)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.event_id == event_id)
        ).all()
        first_at = s.scalar(
            select(func.min(DeliveryAttempt.at))
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.event_id == event_id)
        )
        created = s.scalar(select(Event.created_at).where(Event.id == event_id))
    if first_at and created:
        run.pickup = (first_at - created).total_seconds()
    problems = []
    healthy_rows = [r for r in rows if not r.url.endswith(SLOW_SUFFIX)]
    slow_rows = [r for r in rows if r.url.endswith(SLOW_SUFFIX)]
    want_healthy = N_SUBSCRIBERS - len(slow_ns)
    odd = [r for r in healthy_rows if (r.status, r.attempts) != ("delivered", 1)]
    if len(healthy_rows) != want_healthy or odd:
        problems.append(
            f"{len(healthy_rows)} healthy deliveries, {len(odd)} of them not delivered at the "
            f"first attempt (e.g. {odd[0].status}, {odd[0].attempts}, {odd[0].last_error})"
            if odd
            else f"{len(healthy_rows)} healthy deliveries, expected {want_healthy}"
        )
    healthy_logs = [x for x in logs if not x.url.endswith(SLOW_SUFFIX)]
    if len(healthy_logs) != want_healthy or any(x.status_code != 204 for x in healthy_logs):
        problems.append(f"{len(healthy_logs)} attempts logged for {want_healthy} healthy ones")
    if slow_ns:
        odd = [
            r
            for r in slow_rows
            if r.status != "pending"
            or r.attempts != 1
            or not (r.last_error or "").startswith("timeout")
        ]
        if len(slow_rows) != len(slow_ns) or odd:
            problems.append(
                f"{len(slow_rows)} slow deliveries, {len(odd)} not pending after one timeout"
                + (
                    f" (e.g. {odd[0].status}, {odd[0].attempts}, {odd[0].last_error})"
                    if odd
                    else ""
                )
            )
        slow_logs = [x.latency_ms for x in logs if x.url.endswith(SLOW_SUFFIX)]
        if slow_logs:
            run.cut_after = statistics.median(slow_logs) / 1000
        late = [
            ms
            for ms in slow_logs
            if ms is None or not timeout * 1000 - 50 <= ms <= timeout * 1000 + 5000
        ]
        if len(slow_logs) != len(slow_ns) or late:
            problems.append(
                f"{len(slow_logs)} slow attempts logged, {len(late)} not cut at about "
                f"{timeout:g} s: {sorted(late)[:5]}"
            )
    return problems


# ==========================================================================
# receiver ceiling
# ==========================================================================


def receiver_ceiling(port: int, payload: bytes, seconds: float = 3.0, conns: int = 256) -> float:
    """Requests/s of the receiver alone: wrk (one thread, `conns` connections) POSTing the
    payload."""
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
                f"-c{conns}",
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


def print_cpu_shares(configs, results) -> None:  # type: ignore[no-untyped-def]
    """Where the machine's cores went during our runs (medians, CPU seconds over the run's
    wall time): each worker, PostgreSQL (this run's backends and the WAL writer), the receiver,
    this process (the publish and the poll), and everything else on the host."""
    from bench.http_harness import format_table

    ncpu = os.cpu_count() or 1
    rows = []
    for name, kind, _, _ in configs:
        if kind != "ours":
            continue
        runs = results[name]
        wall = statistics.median(x.seconds for x in runs)
        workers = len(runs[0].each_worker_cpu)
        each = [statistics.median(x.each_worker_cpu[i] for x in runs) for i in range(workers)]
        busy = statistics.median(x.cpu_busy * ncpu * x.seconds for x in runs)
        db = statistics.median(x.db_cpu for x in runs)
        rec = statistics.median(x.receiver_cpu for x in runs)
        own = statistics.median(x.poller_cpu for x in runs)
        ours = sum(each) + (0 if math.isnan(db) else db) + rec + own
        rows.append(
            [
                name,
                f"{wall * 1000:.0f}",
                f"{ncpu * wall:.2f}",
                " + ".join(f"{c:.2f}" for c in each),
                "n/a" if math.isnan(db) else f"{db:.2f}",
                f"{rec:.2f}",
                f"{own:.2f}",
                f"{max(0.0, busy - ours):.2f}",
                f"{max(0.0, ncpu * wall - busy):.2f}",
            ]
        )
    print()
    print(f"Where the {ncpu} cores went during our runs (CPU s, medians)")
    print(
        format_table(
            [
                "run",
                "ms",
                "cores x wall",
                "worker(s)",
                "PostgreSQL",
                "receiver",
                "bench",
                "others",
                "idle",
            ],
            rows,
        )
    )
    print(
        "  PostgreSQL: the run's backends and the WAL writer; bench: this process (publish,"
        " 10 ms poll);\n  others: every other process on the host (other sessions)."
    )


def med(values: list[float], fmt: str = "{:.2f}") -> str:
    values = [v for v in values if v == v]
    return fmt.format(statistics.median(values)) if values else "n/a"


def median_rate(runs: list[Run]) -> float:
    return statistics.median(x.rate for x in runs)


def median_seconds(runs: list[Run]) -> float:
    return statistics.median(x.seconds for x in runs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.push_fanout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-trickle", action="store_true", help="skip the trickle rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)  # receiver process mode
    args = parser.parse_args(argv)
    if args.receiver:
        serve_receiver(args.receiver)
        return 0

    from bench.http_harness import bench_env, fmt_ratio, format_table, free_port
    from syndication.config import load_settings

    defaults = load_settings({}, environ={})
    t_start = time.monotonic()
    load_before = load_average()
    tmp = tempfile.TemporaryDirectory(prefix="bench-push-")
    port = free_port()
    receiver = Child(
        "receiver",
        [sys.executable, "-m", "bench.push_fanout", "--receiver", str(port)],
        bench_env(),
        "receiver listening",
    )
    drops: list[Callable[[], None]] = []
    failures: list[str] = []
    try:
        receiver.start()
        dbs: list[BenchDB] = [
            BenchDB("SQLite", f"sqlite:///{tmp.name}/sqlite/syndication.db", f"{tmp.name}/sqlite")
        ]
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
        # Trickle rounds: a fresh database each (made now, outside any timing).
        trickle_dbs: dict[str, list[tuple[BenchDB, dict[int, str]]]] = {}
        if not args.no_trickle:
            for bdb in dbs:
                trickle_dbs[bdb.label] = []
                for r in range(args.rounds):
                    if bdb.label == "SQLite":
                        where = f"{tmp.name}/trickle-sqlite-{r}"
                        tdb = BenchDB("SQLite", f"sqlite:///{where}/syndication.db", where)
                    else:
                        made = create_pg_database(args.postgres, suffix=f"_t{r}")
                        if isinstance(made, str):
                            raise RuntimeError(f"trickle database: {made}")
                        drops.append(made[1])
                        tdb = BenchDB("PostgreSQL", made[0], f"{tmp.name}/trickle-pg-{r}")
                    _, tsecrets = prepare(tdb, port, slow=True)
                    trickle_dbs[bdb.label].append((tdb, tsecrets))
        print(
            f"{N_SUBSCRIBERS:,} subscribers per database, payload {len(payload):,} bytes, "
            f"push_concurrency {defaults.push_concurrency}, push_per_subscriber "
            f"{defaults.push_per_subscriber}, outbound_timeout {defaults.outbound_timeout:g} s, "
            f"poll_interval {POLL_INTERVAL} s, {os.cpu_count()} CPUs, load average {load_before}",
            flush=True,
        )
        ceiling = receiver_ceiling(port, payload)
        print(f"receiver alone (wrk -t1 -c256, POST {len(payload)} B): {ceiling:,.0f} req/s")

        # (name, kind, database, workers)
        A = f"A: requests, {BASELINE_A_THREADS} threads"
        configs: list[tuple[str, str, BenchDB | None, int]] = [(A, "A", None, 0)]
        configs += [(f"B: {label}", "B", None, 0) for label, _, _ in BASELINE_B_VARIANTS]
        ours = ["ours: SQLite, 1 worker"]
        configs.append((ours[0], "ours", dbs[0], 1))
        if len(dbs) > 1:
            ours += ["ours: PostgreSQL, 1 worker", "ours: PostgreSQL, 2 workers"]
            configs += [(ours[1], "ours", dbs[1], 1), (ours[2], "ours", dbs[1], 2)]
        trickles = [
            (f"trickle: {b.label}, 1 worker", b.label) for b in dbs if b.label in trickle_dbs
        ]
        configs += [(name, "trickle", None, 1) for name, _ in trickles]
        b_variants = {f"B: {label}": (limit, n) for label, limit, n in BASELINE_B_VARIANTS}
        results: dict[str, list[Run]] = {name: [] for name, *_ in configs}
        serial = 0
        for r in range(args.rounds):
            for name, kind, bdb, workers in configs:
                serial += 1
                if kind == "A":
                    run = run_baseline_a(port, payload)
                elif kind == "B":
                    run = run_baseline_b(port, payload, *b_variants[name])
                elif kind == "ours":
                    assert bdb is not None
                    run = run_ours(bdb, port, secrets[bdb.label], workers, f"bench-{serial}")
                else:
                    label = dict(trickles)[name]
                    tdb, tsecrets = trickle_dbs[label][r]
                    run = run_ours(tdb, port, tsecrets, 1, f"bench-{serial}", trickle=True)
                results[name].append(run)
                flag = "ok" if not run.problems else "; ".join(run.problems)
                extra = ""
                if kind == "trickle":
                    extra = (
                        f" (900 healthy; slow ones cut after {run.cut_after:.1f} s, "
                        f"{run.slow_posts} trickling POSTs, worker stopped in "
                        f"{run.stop_seconds:.1f} s)"
                    )
                print(
                    f"  round {r + 1} {name:<40} {run.seconds * 1000:7.0f} ms "
                    f"{run.rate:7,.0f} deliveries/s{extra}  {flag}",
                    flush=True,
                )
                failures += [f"{name}: {p}" for p in run.problems]

        rate_a = median_rate(results[A])
        best_b = max(b_variants, key=lambda n: median_rate(results[n]))
        rate_b = median_rate(results[best_b])
        rows = []
        for name, kind, _, _ in configs:
            if kind == "trickle":
                continue
            runs = results[name]
            rate = median_rate(runs)
            rows.append(
                [
                    name + (" (B)" if name == best_b else ""),
                    med([x.seconds * 1000 for x in runs], "{:.0f}"),
                    f"{rate:,.0f}",
                    fmt_ratio(rate, rate_a),
                    fmt_ratio(rate, rate_b),
                    med([x.pickup * 1000 for x in runs], "{:.0f}"),
                    med([x.cpu_busy * 100 for x in runs], "{:.0f}%"),
                    med([x.worker_cpu for x in runs]),
                    med([x.receiver_cpu for x in runs]),
                ]
            )
        print()
        print(
            f"One story -> {N_SUBSCRIBERS:,} endpoints, medians of {args.rounds} interleaved "
            f"rounds (receiver ceiling {ceiling:,.0f} req/s; B = the fastest aiohttp variant)"
        )
        print(
            format_table(
                [
                    "sender",
                    "ms",
                    "deliveries/s",
                    "vs A",
                    "vs B",
                    "pickup ms",
                    "machine busy*",
                    "sender CPU s",
                    "receiver CPU s",
                ],
                rows,
            )
        )
        print(
            "  ms: publish commit (baselines: first request) -> every delivery recorded"
            " delivered;\n  pickup: event created -> first attempt (wake-up + expansion + first"
            " claim);\n  sender CPU: this process (baselines) or the worker process(es) (ours);"
            "\n  * machine busy: all processes on the host, whoever started them."
        )
        print_cpu_shares(configs, results)
        if trickles:
            trows = []
            for name, label in trickles:
                runs = results[name]
                healthy = results[f"ours: {label}, 1 worker"]
                trows.append(
                    [
                        name,
                        med([x.seconds * 1000 for x in healthy], "{:.0f}"),
                        med([x.seconds * 1000 for x in runs], "{:.0f}"),
                        fmt_ratio(median_seconds(runs), median_seconds(healthy)),
                        med([x.cut_after for x in runs], "{:.1f}"),
                        med([x.stop_seconds for x in runs], "{:.1f}"),
                        med([x.worker_cpu for x in runs]),
                    ]
                )
            print()
            print(
                f"100 of the {N_SUBSCRIBERS:,} endpoints trickle (one byte a second, never"
                " finishing): time to the 900 healthy ones vs all healthy"
            )
            print(
                format_table(
                    [
                        "run",
                        "all healthy ms",
                        "900 healthy ms",
                        "ratio",
                        "slow cut after s",
                        "worker stop s",
                        "worker CPU s",
                    ],
                    trows,
                )
            )
        print()
        verdicts = []
        for name in ours:
            rate = median_rate(results[name])
            for base_name, base, target in (("A", rate_a, TARGET_VS_A), ("B", rate_b, TARGET_VS_B)):
                ok = rate >= target * base
                verdicts.append(ok)
                print(
                    f"{name}: {rate / base:.2f}x baseline {base_name} "
                    f"(target >= {target}x): {verdict(ok)}"
                )
        if len(dbs) > 1:
            one = median_rate(results[ours[1]])
            two = median_rate(results[ours[2]])
            ok = two >= TARGET_SCALE * one
            verdicts.append(ok)
            print(
                f"PostgreSQL two workers / one: {two / one:.2f}x (target >= {TARGET_SCALE}x; "
                f"{os.cpu_count()} CPUs shared with the receiver, PostgreSQL and this process): "
                f"{verdict(ok)}"
            )
        else:
            print(f"PostgreSQL: {pg_note}")
        for name, label in trickles:
            ratio = median_seconds(results[name]) / median_seconds(
                results[f"ours: {label}, 1 worker"]
            )
            ok = ratio <= TARGET_TRICKLE
            verdicts.append(ok)
            print(
                f"{name}: 900 healthy in {ratio:.2f}x the all-healthy time "
                f"(target <= {TARGET_TRICKLE}x): {verdict(ok)}"
            )
        print(f"B is '{best_b[3:]}' (the fastest of {len(b_variants)} variants by median)")
        if failures:
            print("VERIFICATION FAILED:\n  " + "\n  ".join(failures))
        else:
            print(
                "verified: every run one POST on each of the 1,000 paths; 10 sampled signatures "
                "verify with standardwebhooks; every delivery delivered, 1 attempt logged each"
                + (
                    "; trickle runs: the 100 slow ones cut at the deadline, logged as timeouts, "
                    "no trickling connection left open"
                    if trickles
                    else ""
                )
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
                drop()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
