"""`syndication run`: the production server with its scheduler, as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import feedparser
import requests

from syndication.stories.service import create_story
from tests.servers import free_port, start_run


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
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert f"syndication serving on http://127.0.0.1:{port}" in out
    assert f"{base}/feeds.opml" in out
    assert "Traceback" not in err, err
