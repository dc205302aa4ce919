"""Starting `syndication run` as a real process for end-to-end tests."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_run(env: dict[str, str], port: int, timeout: float = 60) -> subprocess.Popen:
    """`syndication run --port PORT` with `env`, returned once /healthz answers. The deadlines
    only stop a broken test: on a loaded machine a worker may take seconds to answer."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndication", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.communicate()}")
            try:
                requests.get(url, timeout=5)
                return proc
            except requests.RequestException:  # not listening yet, or too busy to answer
                time.sleep(0.2)
        raise AssertionError(f"{url} did not answer in {timeout}s")
    except BaseException:
        # Never leave a server behind a failed start (its workers follow it: lifeline.py).
        proc.kill()
        proc.communicate()
        raise


def stop_run(
    proc: subprocess.Popen, sig: signal.Signals = signal.SIGINT, timeout: float = 90
) -> tuple[str, str]:
    """Stop a server from start_run with `sig` and return its output. A worker still starting
    when the signal comes may swallow it, and `run` then waits granian's workers_kill_timeout
    (30 s) for it: the deadline is above that. Past it the server is killed and the test fails."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"`run` did not stop {timeout}s after {sig.name}: {err}") from None
