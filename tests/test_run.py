"""`syndication run`: the production server with its scheduler, as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import feedparser
import requests

from syndication.stories.service import create_story


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def test_run_serves_feeds_and_releases_scheduled_stories(db_url, tmp_path, rt):
    port = _free_port()
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
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndication", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"{base}/healthz", proc)
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
