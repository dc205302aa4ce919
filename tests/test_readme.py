"""Every shell block of README.md runs as written, top to bottom, against a throwaway instance.

A newcomer reads the README in order, so its blocks run in order on one instance: a folder of
its own (SYNDICATION_HOME in tmp, working directory in tmp with `.venv/bin/syndication` running
this checkout), nothing configured but what a reader would have. What the harness changes, and
only this:

- `syndication run` is started in the background (with `--port` of a free port, and the
  README's `127.0.0.1:8000` rewritten to it everywhere, so parallel test runs do not collide),
  waited for until /healthz answers, and stopped when the next one starts or the test ends;
- the commands in SKIPPED are not run, for the reason given there (the list is asserted small
  and every entry must still match a README command, so it cannot silently grow or rot);
- what a reader would type is given: the password a prompt asks for on standard input, and
  `$PASSWORD` for the block that reads it from a variable.

A failure names the block (its README line and language) and the failing command's line.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from syndication.demo.archive import demo_stories
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELL_LANGUAGES = ("sh", "bash", "console", "shell")
README_PORT = "8000"
PASSWORD = "readme-password-1"

# Commands (by their start) not run, and why. Keep it tiny: anything else must run.
SKIPPED = {
    "python3 -m venv": "creates the virtualenv the test already runs in",
    ".venv/bin/pip install": "installs this checkout, which the test already runs from",
    "bash .ci/run": "runs this whole test suite (and installs system packages): it is CI",
    "SCHEMATHESIS_HOOKS=": "schemathesis by hand needs a live admin token and takes minutes; "
    "tests/test_api_schemathesis.py runs the same checks in-process",
}


@dataclass
class Command:
    line: int  # README line where the command starts
    text: str  # with continuation lines joined


@dataclass
class Block:
    line: int  # README line of the opening fence
    language: str
    commands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"README.md block at line {self.line} (```{self.language})"


def shell_blocks(text: str) -> list[Block]:
    """The README's fenced shell blocks, each as its commands (`\\` continuations joined;
    comment-only and blank lines dropped). `console` blocks keep only `$ ` lines."""
    blocks: list[Block] = []
    block: Block | None = None
    pending: Command | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if block is None:
            match = re.fullmatch(r"```\s*([\w-]+)\s*", stripped)
            if match and match.group(1) in SHELL_LANGUAGES:
                block = Block(number, match.group(1))
            elif stripped.startswith("```") and stripped != "```":
                pass  # another language's block
            continue
        if stripped == "```":
            assert pending is None, f"{block.name}: line {number} ends inside a continuation"
            blocks.append(block)
            block = None
            continue
        line = raw
        if block.language == "console" and pending is None:
            if not stripped.startswith("$ "):
                continue  # output shown in the block
            line = stripped[2:]
        if pending is None:
            if not line.strip() or line.strip().startswith("#"):
                continue
            pending = Command(number, "")
        if line.rstrip().endswith("\\"):
            pending.text += line.rstrip()[:-1] + " "
            continue
        pending.text += line.strip()
        block.commands.append(pending)
        pending = None
    assert block is None, f"{block.name} is never closed"
    return blocks


def _skip_reason(part: str) -> str | None:
    for start, reason in SKIPPED.items():
        if part.startswith(start):
            return reason
    return None


def _parts(command: str) -> list[str]:
    """A command split at its top-level `&&` (the set-up line chains install and run)."""
    return [p.strip() for p in command.split(" && ")]


def _is_run(part: str) -> bool:
    words = shlex.split(part, comments=True)
    return len(words) >= 2 and words[0].endswith("syndication") and words[1] == "run"


class Instance:
    """The throwaway instance the blocks run against, and its one background server."""

    def __init__(self, tmp: Path) -> None:
        self.cwd = tmp / "checkout"
        bin_dir = self.cwd / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        # The venv's entry point and its interpreter (an example makes a picture with Pillow).
        for name, command in (("syndication", "-m syndication "), ("python", "")):
            script = bin_dir / name
            script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {command}"$@"\n')
            script.chmod(0o755)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATION_")}
        self.env = {
            **env,
            "SYNDICATION_HOME": str(tmp / "home"),
            "PYTHONPATH": str(ROOT),
            "PASSWORD": PASSWORD,
            # Two cores are shared by many sessions: one web worker is enough for the README.
            "SYNDICATION_WORKERS": "1",
        }
        self.server: subprocess.Popen | None = None
        self.server_log = tmp / "server.log"
        self.startups: list[str] = []

    def rewrite(self, command: str) -> str:
        return command.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{self.port}")

    def start_server(self, part: str, where: str) -> None:
        self.stop_server()
        if "--port" not in part:
            part = f"{part} --port {self.port}"
        log = self.server_log.open("w")
        self.server = subprocess.Popen(
            ["bash", "-c", f"exec {part}"],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                pytest.fail(f"{where}: `{part}` exited:\n{self.server_log.read_text()}")
            try:
                requests.get(url, timeout=2)
                break
            except requests.RequestException:  # not listening yet, or held while migrating
                time.sleep(0.3)
        else:
            pytest.fail(f"{where}: `{part}` did not answer {url}:\n{self.server_log.read_text()}")
        self.startups.append(self.server_log.read_text())

    def stop_server(self) -> None:
        if self.server is None:
            return
        self.server.send_signal(signal.SIGINT)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server = None

    def run_script(self, block: Block, commands: list[Command]) -> None:
        """Run `commands` of `block` as one bash script (variables carry from line to line);
        on failure, say which README line failed and show what it printed."""
        lines = [
            "set -eo pipefail",
            "trap 'echo \"__readme_failed_at__ $__readme_line\" >&2' ERR",
        ]
        for command in commands:
            lines += [f"__readme_line={command.line}", self.rewrite(command.text)]
        proc = subprocess.run(
            ["bash", "-c", "\n".join(lines)],
            cwd=self.cwd,
            env=self.env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            failed = re.search(r"__readme_failed_at__ (\d+)", proc.stderr)
            line = int(failed.group(1)) if failed else commands[-1].line
            text = next((c.text for c in commands if c.line == line), "?")
            pytest.fail(
                f"{block.name}: the command at README.md line {line} failed "
                f"(exit {proc.returncode}):\n  {text}\n--- stdout\n{proc.stdout}"
                f"--- stderr\n{proc.stderr}"
            )


def test_every_readme_shell_block_runs_as_written(tmp_path):
    blocks = shell_blocks(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no shell blocks?"
    instance = Instance(tmp_path)
    skipped: dict[str, list[int]] = {start: [] for start in SKIPPED}
    bare = [
        f"README.md line {c.line}: {c.text}"
        for b in blocks
        for c in b.commands
        if re.search(r"(?<![\w/.-])syndication\s", c.text.split(" #")[0])
    ]
    assert not bare, "bare `syndication` (not on PATH): use .venv/bin/syndication\n" + "\n".join(
        bare
    )
    try:
        for block in blocks:
            script: list[Command] = []
            for command in block.commands:
                parts = _parts(command.text)
                kept = []
                for part in parts:
                    reason = _skip_reason(part)
                    if reason is not None:
                        skipped[next(s for s in SKIPPED if part.startswith(s))].append(command.line)
                    elif _is_run(part):
                        if script:
                            instance.run_script(block, script)
                            script = []
                        if kept:
                            instance.run_script(block, [Command(command.line, " && ".join(kept))])
                            kept = []
                        instance.start_server(
                            instance.rewrite(part), f"{block.name}, README.md line {command.line}"
                        )
                    else:
                        kept.append(part)
                if kept:
                    script.append(Command(command.line, " && ".join(kept)))
            if script:
                instance.run_script(block, script)
    finally:
        instance.stop_server()
    # Every skip still matches a README command, and the list stays tiny.
    assert len(SKIPPED) <= 4
    unused = [start for start, lines in skipped.items() if not lines]
    assert not unused, f"SKIPPED entries no README command matches any more: {unused}"
    # The set-up command's server guided the newcomer (first run, empty instance).
    assert instance.startups, "no README block starts the server"
    first = instance.startups[0]
    base = f"http://127.0.0.1:{instance.port}"
    for url in (f"{base}/", f"{base}/admin/", f"{base}/api/docs", f"{base}/feeds.opml"):
        assert url in first, (url, first)
    assert "password" in first, first


def test_shell_blocks_are_read_with_their_lines():
    text = "\n".join(
        [
            "intro",  # 1
            "```sh",  # 2
            "# a comment",  # 3
            "echo one \\",  # 4
            "    two   # said",  # 5
            "",  # 6
            "a && b",  # 7
            "```",  # 8
            "```python",  # 9
            "print(1)",  # 10
            "```",  # 11
            "```console",  # 12
            "$ echo three",  # 13
            "three",  # 14
            "```",  # 15
        ]
    )
    blocks = shell_blocks(text)
    assert [(b.line, b.language) for b in blocks] == [(2, "sh"), (12, "console")]
    assert [(c.line, c.text) for c in blocks[0].commands] == [
        (4, "echo one  two   # said"),
        (7, "a && b"),
    ]
    assert [(c.line, c.text) for c in blocks[1].commands] == [(13, "echo three")]
    assert _parts("a && b") == ["a", "b"]
    assert _is_run(".venv/bin/syndication run --demo")
    assert not _is_run(".venv/bin/syndication runner")


def test_readme_story_codes_are_not_demo_codes():
    """An example a reader imports must not overwrite a demo story: no number in the README is
    one of the codes the demo loader assigns."""
    demo_codes = {s["code"] for s in demo_stories(datetime(2026, 12, 1, tzinfo=UTC))}
    assert len(demo_codes) >= 200
    numbers = set(re.findall(r"\d+", README.read_text(encoding="utf-8")))
    assert not numbers & demo_codes, sorted(numbers & demo_codes)
