"""`syndication run`: the production server with its scheduler, as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import feedparser
import requests

from syndication.stories.service import create_story
from tests.servers import free_port, start_run, stop_run


def test_run_serves_feeds_and_releases_scheduled_stories(db_url, tmp_path, rt):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_WORKERS": "2",
        "SYNDICATION_POLL_INTERVAL": "0.5",
    }
    env.pop("SYNDICATION_BASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "syndication", "channel", "add", "all", "--title", "All"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = start_run(env, port)
    try:
        # Scheduled by another process (this test) two seconds from now.
        due = datetime.now(UTC) + timedelta(seconds=2)
        with rt.db.write() as s:
            create_story(
                s,
                rt.settings,
                {
                    "title": "Due soon",
                    "code": "77",
                    "status": "scheduled",
                    "publish_at": due.isoformat(),
                },
                now=datetime.now(UTC),
            )
        assert (
            feedparser.parse(requests.get(f"{base}/feeds/all.rss", timeout=5).content).entries == []
        )
        deadline = time.monotonic() + 15
        entries = []
        while time.monotonic() < deadline and not entries:
            time.sleep(0.5)
            entries = feedparser.parse(
                requests.get(f"{base}/feeds/all.rss", timeout=5).content
            ).entries
        assert [e.title for e in entries] == ["Due soon"]
        # Links follow the address the server listens on when no base URL is configured.
        assert entries[0].id == f"{base}/stories/77"
        data = json.loads(requests.get(f"{base}/feeds/all.json", timeout=5).content)
        assert data["items"][0]["date_published"].startswith(due.strftime("%Y-%m-%dT%H:%M:%S"))
    finally:
        out, err = stop_run(proc)
    assert f"syndication serving on http://127.0.0.1:{port}" in out
    assert f"{base}/feeds.opml" in out
    assert "Traceback" not in err, err


def test_run_pushes_a_story_published_through_the_api_at_once(db_url, tmp_path, rt):
    """The web workers and the scheduler are separate processes: with a one-hour poll, only
    the commit's wake-up (NOTIFY / a datagram) can bring the story to the scheduler's engine."""
    from syndication.auth.tokens import create_token
    from syndication.clock import utcnow
    from syndication.models import Subscriber
    from syndication.push.webhooks.signing import generate_secret
    from tests.pushkit import Receiver, publish, wait_for

    receiver = Receiver()
    with rt.db.write() as s:
        _, token = create_token(s, "newsroom", "admin", utcnow())
        s.add(
            Subscriber(
                name="partner", url=receiver.url(), secret=generate_secret(), created_at=utcnow()
            )
        )
    port = free_port()
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_WORKERS": "2",
        "SYNDICATION_POLL_INTERVAL": "3600",
        "SYNDICATION_OUTBOUND_ALLOW": "127.0.0.1",
    }
    publish(rt, "before")
    proc = start_run(env, port)
    try:
        wait_for(lambda: len(receiver.requests) == 1, 30)  # the engine's first pass
        resp = requests.post(
            f"http://127.0.0.1:{port}/api/v1/stories",
            json={"code": "wake", "title": "Wake up", "status": "published"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert resp.status_code == 201, resp.text
        wait_for(lambda: len(receiver.requests) == 2, 30)
        assert json.loads(receiver.requests[1][3])["data"]["code"] == "wake"
    finally:
        stop_run(proc)
        receiver.close()
