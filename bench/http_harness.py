"""Machinery for the HTTP benchmarks: start/stop servers, drive them with wrk.

Everything binds to 127.0.0.1 on a free port.  Servers run as child processes
in their own session (process group) so that stopping one stops its workers
too; every wait loop is bounded in time.

Server commands (all return an argv list):

* ``gunicorn_cmd``  - gunicorn, ``sync`` or ``gthread`` workers;
* ``granian_cmd``   - granian ``--interface wsgi``;
* ``waitress_cmd``  - waitress (single process, N threads);
* ``nginx_static``  - context manager: nginx serving one file, daemon off,
  generated config in a temp dir.

``Server`` runs any argv and waits until a URL answers 200; ``run_wrk`` runs
wrk (after a warm-up) and returns a ``WrkResult``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def venv_tool(name: str) -> str:
    """Path of a console script next to the running interpreter, else PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found (looked in {VENV_BIN} and PATH)")
    return found


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers={"User-Agent": "bench-harness"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for server children: repo root importable, venv bin first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(VENV_BIN), env.get("PATH", "")))
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------
# server commands
# --------------------------------------------------------------------------


def gunicorn_cmd(
    target: str,
    port: int,
    *,
    workers: int = 2,
    worker_class: str = "sync",
    threads: int = 1,
    extra: Sequence[str] = (),
) -> list[str]:
    cmd = [
        venv_tool("gunicorn"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--log-level",
        "warning",
        "--backlog",
        "1024",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    return [*cmd, *extra, target]


def granian_cmd(
    target: str,
    port: int,
    *,
    workers: int = 2,
    blocking_threads: int | None = None,
    runtime_threads: int | None = None,
    backpressure: int | None = None,
    factory: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    cmd = [
        venv_tool("granian"),
        "--interface",
        "wsgi",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--http",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
    ]
    if blocking_threads is not None:
        cmd += ["--blocking-threads", str(blocking_threads)]
    if runtime_threads is not None:
        cmd += ["--runtime-threads", str(runtime_threads)]
    if backpressure is not None:
        cmd += ["--backpressure", str(backpressure)]
    if factory:
        cmd.append("--factory")
    return [*cmd, *extra, target]


def waitress_cmd(
    target: str, port: int, *, threads: int = 4, factory: bool = False, extra: Sequence[str] = ()
) -> list[str]:
    # waitress is single-process by design: "workers" is not a thing here.
    cmd = [
        venv_tool("waitress-serve"),
        f"--listen={HOST}:{port}",
        f"--threads={threads}",
        "--connection-limit=1000",
        "--backlog=1024",
    ]
    if factory:
        cmd.append("--call")
    return [*cmd, *extra, target]


# --------------------------------------------------------------------------
# running a server
# --------------------------------------------------------------------------


@dataclass
class Server:
    """A server child process; use as a context manager.

    ``ready_url`` is polled until it answers 200 (bounded by ``start_timeout``).
    Stop sends ``stop_signal`` to the whole process group, waits up to
    ``stop_timeout`` and SIGKILLs the group if needed.
    """

    name: str
    argv: list[str]
    port: int
    ready_path: str = "/"
    env: dict[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    start_timeout: float = 30.0
    stop_timeout: float = 15.0
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    log_path: Path | None = field(default=None, init=False)
    startup_seconds: float | None = field(default=None, init=False)
    stop_seconds: float | None = field(default=None, init=False)
    exit_code: int | None = field(default=None, init=False)
    _log_fh: object = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> Server:
        fd, log = tempfile.mkstemp(prefix=f"bench-{self.name.replace(' ', '_')}-", suffix=".log")
        self.log_path = Path(log)
        self._log_fh = os.fdopen(fd, "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(  # noqa: S603 - argv built above
            self.argv,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env if self.env is not None else bench_env(),
            cwd=self.cwd if self.cwd is not None else REPO_ROOT,
            start_new_session=True,
        )
        try:
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, t0: float) -> None:
        assert self.proc is not None
        deadline = t0 + self.start_timeout
        last_err: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before answering:\n"
                    + self.log_tail()
                )
            try:
                status, _, _ = http_get(self.url(self.ready_path), timeout=2.0)
                if status == 200:
                    return
                last_err = f"HTTP {status}"
            except (OSError, urllib.error.URLError) as exc:
                last_err = exc
            time.sleep(0.05)
        raise TimeoutError(
            f"{self.name} did not answer 200 on {self.ready_path} "
            f"within {self.start_timeout}s ({last_err}):\n" + self.log_tail()
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        t0 = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (workers of a dead master...) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.stop_seconds = time.monotonic() - t0
        self.exit_code = self.proc.returncode
        if self._log_fh is not None:
            self._log_fh.close()  # type: ignore[attr-defined]
            self._log_fh = None

    def log_tail(self, n: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        if self._log_fh is not None:
            self._log_fh.flush()  # type: ignore[attr-defined]
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def cleanup(self) -> None:
        if self.log_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if exc[0] is None:
            self.cleanup()


# --------------------------------------------------------------------------
# nginx serving one static file
# --------------------------------------------------------------------------

NGINX_CONF = """\
{user_line}
worker_processes {workers};
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=16 inactive=60s;
    server_tokens off;

    types {{
        {mime_type} {ext};
    }}
    default_type {mime_type};

    server {{
        listen {host}:{port} backlog=1024;
        root {root};
        location / {{ {location} }}
    }}
}}
"""


def nginx_binary() -> str:
    for cand in ("nginx", "/usr/sbin/nginx"):
        found = shutil.which(cand)
        if found:
            return found
    raise FileNotFoundError("nginx not installed (apt-get install -y nginx-light)")


@contextlib.contextmanager
def nginx_static(
    body: bytes,
    *,
    url_path: str = "/feed.rss",
    mime_type: str = "application/rss+xml",
    workers: int = 2,
    port: int | None = None,
    gzipped: bytes | None = None,
) -> Iterator[Server]:
    """nginx (daemon off, own config, temp dir) serving ``body`` at ``url_path``; with
    ``gzipped``, also ``<url_path>.gz`` served by ``gzip_static`` to clients that take gzip."""
    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    try:
        tmp.chmod(0o755)  # workers may run as an unprivileged user
        root = tmp / "root"
        target = root / url_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        if gzipped is not None:
            gz = target.with_name(target.name + ".gz")
            gz.write_bytes(gzipped)
            gz.chmod(0o644)
        for p in [root, *target.parents]:
            if p == tmp:
                break
            p.chmod(0o755)
        target.chmod(0o644)
        ext = target.suffix.lstrip(".") or "bin"
        user_line = "user root root;" if os.geteuid() == 0 else ""
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user_line=user_line,
                workers=workers,
                tmp=tmp,
                host=HOST,
                port=port,
                root=root,
                mime_type=mime_type,
                ext=ext,
                location="gzip_static on;" if gzipped is not None else "",
            )
        )
        argv = [nginx_binary(), "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
        # SIGQUIT = graceful stop for nginx.
        server = Server(
            f"nginx -w{workers}",
            argv,
            port,
            ready_path=url_path,
            stop_signal=signal.SIGQUIT,
            cwd=tmp,
        )
        with server:
            yield server
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}  # wrk counts in 1024s


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass
class WrkResult:
    rps: float
    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int
    latency_avg_ms: float
    latency_p50_ms: float
    latency_p99_ms: float
    raw: str
    bytes_read: float = float("nan")  # wrk's "... read", to ~3 significant digits

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0 and self.requests > 0

    @property
    def bytes_per_response(self) -> float:
        """Mean bytes a response took on the wire under the load (status line, headers, body):
        shows what the load really fetched, e.g. that a gzip run got the gzip bytes."""
        return self.bytes_read / self.requests if self.requests else float("nan")


def parse_wrk(output: str) -> WrkResult:
    def grab(pattern: str, default: str = "0") -> str:
        m = re.search(pattern, output, re.MULTILINE)
        return m.group(1) if m else default

    rps = float(grab(r"^Requests/sec:\s+([\d.]+)", "nan"))
    m = re.search(
        r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+)([KMGT]?B) read", output, re.MULTILINE
    )
    requests = int(m.group(1)) if m else 0
    duration_s = _ms(m.group(2)) / 1e3 if m else float("nan")
    bytes_read = float(m.group(3)) * _BYTES[m.group(4)] if m else float("nan")
    non_2xx = int(grab(r"Non-2xx or 3xx responses:\s+(\d+)"))
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(x) for x in se.groups()) if se else 0
    lat = re.search(r"^\s+Latency\s+(\S+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    return WrkResult(
        rps=rps,
        requests=requests,
        duration_s=duration_s,
        non_2xx=non_2xx,
        socket_errors=socket_errors,
        latency_avg_ms=_ms(lat.group(1)) if lat else float("nan"),
        latency_p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        latency_p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        raw=output,
        bytes_read=bytes_read,
    )


@dataclass(frozen=True)
class LoadSpec:
    duration: float = 8.0
    connections: int = 64
    threads: int = 2
    warmup: float = 2.0
    timeout: str = "5s"
    headers: tuple[str, ...] = ()  # request headers wrk sends, "Name: value"


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise FileNotFoundError("wrk not installed (apt-get install -y wrk)")
    return found


def _wrk_once(url: str, duration: float, spec: LoadSpec) -> WrkResult:
    argv = [
        wrk_binary(),
        f"-t{spec.threads}",
        f"-c{spec.connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={spec.timeout}",
        "--latency",
        *(arg for header in spec.headers for arg in ("-H", header)),
        url,
    ]
    out = subprocess.run(  # noqa: S603
        argv, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse_wrk(out.stdout)


def run_wrk(url: str, spec: LoadSpec = LoadSpec()) -> WrkResult:
    """Warm up for ``spec.warmup`` s (result discarded), then measure."""
    if spec.warmup > 0:
        _wrk_once(url, spec.warmup, spec)
    return _wrk_once(url, spec.duration, spec)


def check_response(url: str, expected_body: bytes | None = None) -> dict[str, str]:
    """One GET: must be 200 and, if given, byte-identical to ``expected_body``."""
    status, headers, body = http_get(url)
    if status != 200:
        raise AssertionError(f"GET {url} -> {status}")
    if expected_body is not None and body != expected_body:
        raise AssertionError(
            f"GET {url}: body differs ({len(body)} bytes vs {len(expected_body)} expected)"
        )
    return headers


def measure(
    server: Server, path: str, spec: LoadSpec, expected_body: bytes | None = None
) -> WrkResult:
    check_response(server.url(path), expected_body)
    res = run_wrk(server.url(path), spec)
    if not res.ok:
        print(
            f"  !! {server.name}: non-2xx={res.non_2xx} socket-errors={res.socket_errors}",
            file=sys.stderr,
        )
    return res


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def fmt_ratio(num: float, den: float) -> str:
    if not den or den != den or num != num:
        return "n/a"
    return f"{num / den:.2f}x"
