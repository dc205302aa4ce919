"""GET /metrics: what it counts after real requests and real deliveries, read back with
prometheus_client's own parser; who may read it; several processes counted as one (separate
processes writing into one PROMETHEUS_MULTIPROC_DIR, and `syndication run` itself)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from syndication.config import ConfigError, load_settings
from syndication.links.service import story_link
from syndication.models import HubIntent, Story, Subscriber
from syndication.ops.traffic import ROUTE_CLASSES, route_class
from tests.conftest import make_settings
from tests.pushkit import Receiver, add_subscriber, publish, wait_for
from tests.servers import free_port, start_run, stop_run
from tests.storyfactory import add_channel

TOKEN = "metrics-token-0123456789abcdef"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


@pytest.fixture
def settings(db_url, tmp_path):
    # Visits flushed only when the test says so; loopback receivers allowed.
    return make_settings(
        db_url, tmp_path, outbound_allow="127.0.0.1", visit_flush_interval=60, retry_schedule="5"
    )


@pytest.fixture
def app(clocked_app):
    """Requests, jobs and the scrape read the test's FakeClock."""
    return clocked_app


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    """/metrics parsed by prometheus_client: {sample name: {sorted label items: value}}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict[str, dict[tuple, float]]:
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_requests_feed_cache_deliveries_and_queue_after_real_traffic(app, client, rt, ctx, clock):
    add_channel(rt, {"slug": "world", "title": "World"})
    publish(rt, "s1", now=clock())
    ctx.engine.drain()  # its event finds no subscriber
    receiver = Receiver(lambda path, n: (500, {}, b"no") if path == "/fail" else (200, {}, b"ok"))
    try:
        add_subscriber(rt, receiver.url("/ok"), name="good")
        add_subscriber(rt, receiver.url("/fail"), name="bad")
        publish(rt, "s2", now=clock())
        ctx.engine.drain()
        assert len(receiver.requests) == 2
    finally:
        receiver.close()
    with rt.db.read() as s:
        story_id = s.scalar(select(Story.id).where(Story.code == "s1"))
        link = story_link(s, story_id).code

    assert client.get("/feeds/world.rss").status_code == 200  # rendered: a miss
    assert client.get("/feeds/world.rss").status_code == 200  # the fast path's hit
    assert client.get("/feeds/world.atom?before=x").status_code == 400  # no lookup at all
    assert client.get(f"/s/{link}", headers={"User-Agent": BROWSER}).status_code == 302
    assert client.get(f"/s/{link}/qr.svg").status_code == 200
    assert client.get("/api/v1/stories").status_code == 401
    assert client.get("/nowhere").status_code == 404

    samples = scrape(client)
    requests_total = "syndication_http_requests_total"
    assert value(samples, requests_total, route="feeds", status="200") == 2
    assert value(samples, requests_total, route="feeds", status="400") == 1
    assert value(samples, requests_total, route="short_links", status="302") == 1
    assert value(samples, requests_total, route="qr", status="200") == 1
    assert value(samples, requests_total, route="api", status="401") == 1
    assert value(samples, requests_total, route="other", status="404") == 1
    assert {dict(k)["route"] for k in samples[requests_total]} <= set(ROUTE_CLASSES)

    cache = "syndication_feed_cache_requests_total"
    assert value(samples, cache, format="rss", result="miss") == 1
    assert value(samples, cache, format="rss", result="hit") == 1
    assert value(samples, cache, format="atom", result="miss") == 0

    deliveries = "syndication_deliveries_total"
    assert value(samples, deliveries, kind="webhook", outcome="delivered") == 1
    assert value(samples, deliveries, kind="webhook", outcome="failed") == 1
    latency = "syndication_delivery_latency_seconds"
    assert value(samples, latency + "_count", kind="webhook", outcome="delivered") == 1
    assert value(samples, latency + "_bucket", kind="webhook", outcome="failed", le="+Inf") == 1
    assert value(samples, latency + "_sum", kind="webhook", outcome="delivered") >= 0

    assert value(samples, "syndication_visits_buffered") == 1
    # The failed delivery retries in 5 s: not due yet.
    assert value(samples, "syndication_deliveries_due") == 0
    assert value(samples, "syndication_oldest_due_delivery_age_seconds") == 0
    assert value(samples, "syndication_database_up") == 1

    rt.visits.flush()
    clock.advance(65)
    samples = scrape(client)
    assert value(samples, "syndication_visits_buffered") == 0
    assert value(samples, "syndication_deliveries_due") == 1
    assert value(samples, "syndication_oldest_due_delivery_age_seconds") == 60
    # The scrapes themselves count, as "other".
    assert value(samples, requests_total, route="other", status="200") == 1


def test_hub_subscriptions_by_state_and_pending_intents(client, rt, clock):
    now = clock()
    with rt.db.write() as s:
        for name, active, expires in [
            ("a", True, now + timedelta(days=1)),
            ("b", True, now + timedelta(days=2)),
            ("c", True, now - timedelta(seconds=1)),
            ("d", False, now + timedelta(days=1)),
        ]:
            s.add(
                Subscriber(
                    kind="websub",
                    name=name,
                    url=f"https://reader.example/{name}",
                    secret="",
                    topic="http://news.example.test/feeds/world.rss",
                    topic_format="rss",
                    active=active,
                    lease_expires_at=expires,
                    created_at=now,
                )
            )
        for status in ("pending", "pending", "verified", "denied"):
            s.add(
                HubIntent(
                    mode="subscribe",
                    topic="http://news.example.test/feeds/world.rss",
                    callback="https://reader.example/x",
                    challenge="c",
                    status=status,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    add_subscriber(rt, "https://partner.example/hook")  # a webhook: not a hub subscription
    samples = scrape(client)
    hub = "syndication_hub_subscriptions"
    assert value(samples, hub, state="active") == 2
    assert value(samples, hub, state="expired") == 1
    assert value(samples, hub, state="disabled") == 1
    assert value(samples, "syndication_hub_intents_pending") == 2


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/feeds/world.rss", "feeds"),
        ("/feeds.opml", "feeds"),
        ("/stories/123", "story_pages"),
        ("/s/abc", "short_links"),
        ("/s/abc/qr.png", "qr"),
        ("/hub", "hub"),
        ("/api/v1/stories", "api"),
        ("/admin/", "admin"),
        ("/admin", "admin"),
        ("/portal/deliveries", "portal"),
        ("/media/ab.png", "media"),
        ("/", "other"),
        ("/metrics", "other"),
        ("", "other"),
        ("//feeds", "other"),
        ("feeds/x", "other"),
        ("/FEEDS/x.rss", "other"),
        ("/\x00/x", "other"),
        ("/" + "a" * 100_000, "other"),
    ],
)
def test_route_classes_are_a_bounded_set(path, expected):
    assert route_class(path) == expected


def test_hostile_paths_count_as_other_without_new_labels(client):
    for path in (
        "/%00",
        "/" + "x" * 5000,
        "/s/",
        "/feeds/" + "é" * 50,
        "/feeds/a.rss?" + "q" * 9000,
    ):
        client.get(path)
    samples = scrape(client)
    routes = {dict(k)["route"] for k in samples["syndication_http_requests_total"]}
    assert routes <= set(ROUTE_CLASSES)


# -- who may read it -----------------------------------------------------------------------------


def _client(db_url, tmp_path, **overrides):
    from syndication.app import create_app

    app = create_app(make_settings(db_url, tmp_path, **overrides))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def make_client(db_url, tmp_path):
    apps = []

    def make(**overrides):
        app = _client(db_url, tmp_path, **overrides)
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["syndication"].close()


ELSEWHERE = {"X-Forwarded-For": "203.0.113.9"}


def test_loopback_is_allowed_and_another_address_is_not(make_client):
    client = make_client(trusted_proxies=1)
    assert client.get("/metrics").status_code == 200  # 127.0.0.1, the default allow-list
    refused = client.get("/metrics", headers=ELSEWHERE)
    assert refused.status_code == 403
    assert "WWW-Authenticate" not in refused.headers
    assert b"syndication_" not in refused.data
    # Without trusted_proxies the header is anyone's to send: the TCP peer (loopback) counts.
    assert make_client().get("/metrics", headers=ELSEWHERE).status_code == 200


def test_allow_list_ranges(make_client):
    client = make_client(trusted_proxies=1, metrics_allow="10.0.0.0/8, 203.0.113.0/24")
    assert client.get("/metrics", headers=ELSEWHERE).status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback no longer listed
    ipv6 = make_client(trusted_proxies=1, metrics_allow="2001:db8::/32")
    assert ipv6.get("/metrics", headers={"X-Forwarded-For": "2001:db8::7"}).status_code == 200
    assert ipv6.get("/metrics", headers={"X-Forwarded-For": "2001:db9::7"}).status_code == 403
    nobody = make_client(trusted_proxies=1, metrics_allow="")
    assert nobody.get("/metrics").status_code == 403


@pytest.mark.parametrize(
    "configured", [TOKEN, "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()]
)
def test_token_right_wrong_and_missing(make_client, configured, caplog):
    client = make_client(trusted_proxies=1, metrics_token=configured)
    missing = client.get("/metrics", headers=ELSEWHERE)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    good = client.get("/metrics", headers={**ELSEWHERE, "Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200 and b"syndication_http_requests_total" in good.data
    lower = client.get("/metrics", headers={**ELSEWHERE, "Authorization": f"bearer {TOKEN}"})
    assert lower.status_code == 200
    for wrong in (
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        "Bearer " + "a" * 100_000,
        f"Bearer {TOKEN} extra",
        "Bearer " + hashlib.sha256(TOKEN.encode()).hexdigest(),
    ):
        response = client.get("/metrics", headers={**ELSEWHERE, "Authorization": wrong})
        assert response.status_code == 403, wrong[:40]
    for malformed in ("Bearer", "Bearer ", f"Basic {TOKEN}", TOKEN, ""):
        response = client.get("/metrics", headers={**ELSEWHERE, "Authorization": malformed})
        assert response.status_code == 401, malformed
    # From an allowed address the token is not needed.
    assert client.get("/metrics").status_code == 200
    assert TOKEN not in caplog.text


def test_metrics_settings_are_checked_without_echoing_the_token(tmp_path):
    for bad in ("short", "has a space in it 123", "sha256:1234", "sha256:" + "G" * 64):
        with pytest.raises(ConfigError) as info:
            load_settings({"metrics_token": bad}, environ={})
        assert "metrics_token" in str(info.value)
        if bad != "sha256:1234":
            assert bad not in str(info.value)
    for bad in ("10.0.0.0/33", "localhost", "1.2.3.4/8/8"):
        with pytest.raises(ConfigError, match="metrics_allow"):
            load_settings({"metrics_allow": bad}, environ={})
    settings = load_settings({"metrics_allow": " 10.0.0.1 , ::1 , 10.0.0.1/32,"}, environ={})
    assert settings.metrics_allow.startswith("10.0.0.1")  # a duplicate does no harm
    settings = load_settings({"metrics_token": TOKEN}, environ={})
    assert TOKEN not in repr(settings)


# -- several processes ---------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from syndication.ops.metrics import Metrics

    m = Metrics()
    n = int(sys.argv[1])
    for _ in range(n):
        m.requests.labels("feeds", "200").inc()
        m.feed_cache_lookup("rss", True)
    m.observe_delivery("webhook", "delivered", 0.2 * n)
    m.visits_buffered.set(n)
    print(m.registry is None)
    """
)
COLLECTOR = textwrap.dedent(
    """
    import sys
    from syndication.db import Database
    from syndication.clock import utcnow
    from syndication.ops.collector import DatabaseCollector
    from syndication.ops.metrics import Metrics, mark_dead

    for pid in sys.argv[2:]:
        mark_dead(int(pid))
    db = Database(sys.argv[1])
    sys.stdout.write(Metrics().exposition(DatabaseCollector(db, utcnow)).decode())
    db.dispose()
    """
)


def _python(script: str, *args: str, directory) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


def test_processes_writing_one_directory_are_collected_as_one(db_url, rt, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    first = subprocess.Popen(
        [sys.executable, "-c", WRITER, "2"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.communicate(timeout=60)[0].strip() == "True"  # multiprocess: no own registry
    _python(WRITER, "3", directory=directory)
    add_subscriber(rt, "https://partner.example/hook")
    samples = parse(_python(COLLECTOR, db_url, directory=directory).stdout)
    assert value(samples, "syndication_http_requests_total", route="feeds", status="200") == 5
    assert value(samples, "syndication_feed_cache_requests_total", format="rss", result="hit") == 5
    latency = "syndication_delivery_latency_seconds"
    assert value(samples, latency + "_count", kind="webhook", outcome="delivered") == 2
    assert value(samples, latency + "_sum", kind="webhook", outcome="delivered") == pytest.approx(
        1.0
    )
    assert value(samples, "syndication_visits_buffered") == 5  # livesum of both
    assert value(samples, "syndication_database_up") == 1
    # The first process marked dead: its buffered visits leave the sum, its counts stay.
    samples = parse(_python(COLLECTOR, db_url, str(first.pid), directory=directory).stdout)
    assert value(samples, "syndication_visits_buffered") == 3
    assert value(samples, "syndication_http_requests_total", route="feeds", status="200") == 5


def test_syndication_run_counts_its_workers_and_scheduler_as_one(db_url, tmp_path, rt):
    """`syndication run` with two web workers and its scheduler: requests spread over the
    workers add up, a delivery the scheduler process made shows in a web worker's scrape, the
    scheduler's heartbeat makes /ready answer 200, and the processes leave no live gauge."""
    receiver = Receiver()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_WORKERS": "2",
        "SYNDICATION_POLL_INTERVAL": "0.5",
        "SYNDICATION_OUTBOUND_ALLOW": "127.0.0.1",
    }
    env.pop("SYNDICATION_BASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stale = tmp_path / "instance" / "metrics"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"left by an earlier run")
    proc = start_run(env, port)
    try:
        wait_for(lambda: requests.get(f"{base}/ready", timeout=5).status_code == 200, 60)
        ready = requests.get(f"{base}/ready", timeout=5).json()
        assert ready == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "scheduler": "ok"},
        }
        session = requests.Session()
        add_channel(rt, {"slug": "world", "title": "World"})
        for _ in range(20):
            # A new connection each time, so the kernel spreads them over the workers.
            assert requests.get(f"{base}/feeds.opml", timeout=5).status_code == 200
        add_subscriber(rt, receiver.url("/hook"))
        publish(rt, "run1")
        wait_for(lambda: len(receiver.requests) == 1, 60)

        def delivered() -> dict:
            samples = parse(session.get(f"{base}/metrics", timeout=5).text)
            done = value(
                samples, "syndication_deliveries_total", kind="webhook", outcome="delivered"
            )
            # The attempt is counted when its answer comes, its row recorded just after (the
            # engine's recorder): until then it is still due in the database.
            due = value(samples, "syndication_deliveries_due")
            return samples if done == 1 and due == 0 else {}

        wait_for(lambda: bool(delivered()), 60)
        samples = delivered()
        assert value(samples, "syndication_http_requests_total", route="feeds", status="200") == 20
    finally:
        stop_run(proc)
        receiver.close()
    assert not (stale / "counter_1.db").exists()
    # Every process (web workers, scheduler, `run` itself) took its live gauges out on the way
    # out; the counters stay.
    assert not list(stale.glob("gauge_live*"))
    assert list(stale.glob("counter_*.db"))
