"""A first run that guides (issue 13, points 1 and 2): what `run` prints and creates, the sign-in
page's hint, one instance folder whatever the working directory, `syndication info`, and CLI
URLs that follow the port the server runs on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from syndication.auth.users import create_user
from syndication.cli import cli
from syndication.config import load_settings, load_settings_with_origins, record_base_url
from tests.servers import free_port

NOW_ISO = "2026-12-01T08:00:00+00:00"


def _env(home: Path) -> dict[str, str]:
    """A newcomer's environment: nothing configured but the instance folder (the tests' own
    SYNDICATION_HOME, never the real per-user one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATION_")}
    return {**env, "SYNDICATION_HOME": str(home), "SYNDICATION_WORKERS": "1"}


def _start(env: dict[str, str], port: int, cwd: Path, log: Path, *args: str) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syndication", "run", "--port", str(port), *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run exited: {log.read_text()}")
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except requests.RequestException:  # not listening yet, or held while migrating
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"run did not answer: {log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "syndication", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_guides_a_newcomer_and_the_cli_prints_the_port_it_serves_on(tmp_path):
    home = tmp_path / "home"
    env = _env(home)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)

    # Without --demo, on an empty instance: nobody is created; the one command is printed.
    port = free_port()
    log = tmp_path / "plain.log"
    _stop(_start(env, port, tmp_path / "a", log))
    out = log.read_text()
    base = f"http://127.0.0.1:{port}"
    for label, url in (
        ("public site", f"{base}/"),
        ("admin", f"{base}/admin/"),
        ("API docs", f"{base}/api/docs"),
        ("all feeds", f"{base}/feeds.opml"),
    ):
        assert re.search(rf"^  {label}:\s+{re.escape(url)}$", out, re.M), (label, out)
    assert "no admin user yet; create one with: " in out
    assert "user create --username admin --role admin" in out
    assert "password" not in out

    # With --demo on another port, from another folder: the same instance, a demo admin.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"
    proc = _start(env, port, tmp_path / "b", log, "--demo")
    try:
        out = log.read_text()
        assert "demo archive loaded" in out
        for url in (f"{base}/", f"{base}/admin/", f"{base}/api/docs", f"{base}/feeds.opml"):
            assert url in out, out
        found = re.search(r"sign in:\s+user 'admin', password (\S+) ", out)
        assert found, out
        password = found[1]
        assert len(password) >= 12

        # The demo admin signs in with the printed password.
        web = requests.Session()
        login = web.get(f"{base}/admin/login", timeout=10)
        assert "No user exists yet" not in login.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)[1]
        signed = web.post(
            f"{base}/admin/login",
            data={"username": "admin", "password": password, "csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert signed.status_code == 303, signed.text
        assert web.get(f"{base}/admin/", timeout=10).status_code == 200

        # The CLI, from yet another folder, prints the URLs the running server uses.
        elsewhere = tmp_path / "c"
        listed = _cli(env, elsewhere, "links", "list", "--limit", "1")
        assert listed.returncode == 0, listed.stderr
        assert f"\t{base}/stories/" in listed.stdout and f"\t{base}/s/" in listed.stdout
        added = _cli(env, elsewhere, "links", "add", "https://example.org/a", "--slug", "promo")
        assert added.returncode == 0, added.stderr
        assert added.stdout.splitlines()[-1] == f"{base}/s/promo"
        channels = _cli(env, elsewhere, "channel", "list")
        assert f"{base}/feeds/world.rss" in channels.stdout, channels.stdout
        users = _cli(env, elsewhere, "user", "list")
        assert users.stdout.splitlines()[1].startswith("admin\tadmin\t"), users.stdout
        info = _cli(env, elsewhere, "info")
        assert re.search(
            rf"^base URL:\s+{re.escape(base)}  \(recorded by `syndication run`", info.stdout, re.M
        ), info.stdout
    finally:
        _stop(proc)

    # A second --demo run creates no second admin (a user exists) and prints no password.
    port = free_port()
    log = tmp_path / "again.log"
    _stop(_start(env, port, tmp_path / "d", log, "--demo"))
    out = log.read_text()
    assert "demo archive not loaded" in out
    assert "password" not in out and "no admin user yet" not in out


def test_the_sign_in_page_says_how_to_create_the_first_admin(client, rt):
    page = client.get("/admin/login").get_data(as_text=True)
    assert "No user exists yet" in page
    assert re.search(r"<code>\S*syndication user create --username admin --role admin</code>", page)
    with rt.db.write() as s:
        from datetime import UTC, datetime

        create_user(s, "alice", "correct horse battery", "admin", now=datetime.now(UTC))
    page = client.get("/admin/login").get_data(as_text=True)
    assert "No user exists yet" not in page and "user create" not in page


def _invoke(monkeypatch, folder: Path, *args: str, **env: str | None):
    """The CLI in-process, run from `folder`, with nothing configured but `env`."""
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)
    clean = {
        k: None for k in os.environ if k.startswith("SYNDICATION_") and k != "SYNDICATION_HOME"
    }
    return CliRunner().invoke(cli, list(args), env={**clean, **env}, catch_exceptions=False)


def test_every_folder_sees_the_same_database(monkeypatch, tmp_path, _home):
    added = _invoke(monkeypatch, tmp_path / "one", "channel", "add", "world", "--title", "World")
    assert added.exit_code == 0, added.output
    listed = _invoke(monkeypatch, tmp_path / "two", "channel", "list")
    assert "world" in listed.output, listed.output
    assert (_home / "syndication.db").is_file()
    assert not (tmp_path / "one" / "instance").exists()
    assert not (tmp_path / "two" / "instance").exists()
    info = _invoke(monkeypatch, tmp_path / "two", "info")
    lines = dict(
        (line.split(":", 1)[0], line.split(":", 1)[1].strip()) for line in info.output.splitlines()
    )
    assert (
        lines["database"]
        == f"sqlite:///{_home / 'syndication.db'}  (default: syndication.db in the instance folder)"
    )
    assert lines["instance folder"] == f"{_home}  (environment SYNDICATION_HOME)"
    assert lines["base URL"] == "http://127.0.0.1:8000  (default)"
    assert lines["config file"].startswith("none  (SYNDICATION_CONFIG not set")


def test_instance_path_and_database_url_still_override_the_home(monkeypatch, tmp_path, _home):
    other = tmp_path / "elsewhere"
    info = _invoke(
        monkeypatch,
        tmp_path,
        "info",
        SYNDICATION_INSTANCE_PATH=str(other),
        SYNDICATION_DATABASE_URL="postgresql+psycopg://editor:s3cret@db.internal/news",
    )
    assert "s3cret" not in info.output
    assert (
        "postgresql+psycopg://editor:***@db.internal/news  (environment SYNDICATION_DATABASE_URL)"
        in info.output
    )
    assert f"{other}  (environment SYNDICATION_INSTANCE_PATH)" in info.output
    config = tmp_path / "site.toml"
    config.write_text(f'instance_path = "{other}"\nbase_url = "https://news.example"\n')
    info = _invoke(monkeypatch, tmp_path, "info", SYNDICATION_CONFIG=str(config))
    assert f"{other}  (config file {config})" in info.output
    assert f"https://news.example  (config file {config})" in info.output
    assert f"config file:     {config}  (SYNDICATION_CONFIG)" in info.output
    settings = load_settings(environ={"SYNDICATION_HOME": str(tmp_path / "h2")})
    assert settings.instance_dir == tmp_path / "h2"
    assert settings.db_url == f"sqlite:///{tmp_path / 'h2' / 'syndication.db'}"


def test_the_recorded_base_url_is_used_unless_one_is_configured(monkeypatch, tmp_path, _home):
    settings = load_settings()
    assert settings.instance_dir == _home
    path = record_base_url(settings, "http://127.0.0.1:8101")
    assert path == _home / "base_url"
    recorded, origins = load_settings_with_origins()
    assert recorded.base_url == "http://127.0.0.1:8101"
    assert origins["base_url"].startswith("recorded by `syndication run`")
    added = _invoke(monkeypatch, tmp_path, "links", "add", "https://example.org/", "--slug", "abc")
    assert added.output.splitlines()[-1] == "http://127.0.0.1:8101/s/abc"
    listed = _invoke(monkeypatch, tmp_path, "links", "list")
    assert "abc\t0\thttps://example.org/\thttp://127.0.0.1:8101/s/abc" in listed.output
    # Configured wins over recorded.
    configured = _invoke(
        monkeypatch, tmp_path, "links", "list", SYNDICATION_BASE_URL="https://news.example"
    )
    assert "\thttps://news.example/s/abc" in configured.output
    # A damaged record is ignored, not fatal.
    path.write_text("not a url\n")
    assert load_settings().base_url == "http://127.0.0.1:8000"
    with pytest.raises(ValueError):
        record_base_url(settings, "ftp://nope")


def test_the_suite_never_uses_the_real_per_user_folder(_home):
    assert os.environ["SYNDICATION_HOME"] == str(_home)
    assert load_settings().instance_dir == _home
