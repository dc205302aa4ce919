"""The outbound client against real servers on the loopback interface.

Only DNS is stubbed (the world's DNS is outside this machine): StubResolver below answers from a
table, differently on each call when told to, and counts its calls. Everything else is real:
http.server and raw-socket servers in threads, TLS with trustme certificates, a forward proxy.
No assertion depends on wall-clock durations: a "slow" server is one that never finishes."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import select
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import trustme

from syndication.config import Settings
from syndication.outbound import (
    BadResponse,
    ConnectFailed,
    DNSFailure,
    OutboundClient,
    OutboundError,
    OutboundPolicy,
    ResolveTimedOut,
    TimedOut,
    UnsafeURL,
    parse_url,
    why_not_public,
)

# -- DNS stub ----------------------------------------------------------------------------------


class StubResolver:
    """Answers from `answers` (host → one list of addresses per call; the last list repeats),
    after `delay` seconds; records every call."""

    def __init__(self, answers: dict[str, list[list[str]]], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address]:
        self.calls.append((host, port))
        if self.delay:
            await asyncio.sleep(self.delay)
        if host not in self.answers:
            raise DNSFailure(f"host {host!r} does not resolve: not in the stub")
        seq = self.answers[host]
        n = sum(1 for h, _ in self.calls if h == host)
        return [ipaddress.ip_address(a) for a in seq[min(n, len(seq)) - 1]]

    def count(self, host: str) -> int:
        return sum(1 for h, _ in self.calls if h == host)


# -- servers -----------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    peer: tuple[str, int]
    local: tuple[str, int]


Route = Callable[[Seen], tuple[int, list[tuple[str, str]], bytes]]


def ok_route(seen: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "text/plain")], b"ok"


class HTTPServerThread:
    """http.server (HTTP/1.1, keep-alive) on `host`, optionally TLS; records requests and SNI."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        routes: dict[str, Route] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.seen: list[Seen] = []
        self.sni: list[str | None] = []
        self.routes = routes or {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address[:2],
                    self.connection.getsockname()[:2],
                )
                recorder.seen.append(seen)
                route = recorder.routes.get(self.path.split("?")[0], ok_route)
                status, headers, payload = route(seen)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_HEAD = handle_one

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self.httpd = Server((host, 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sslobj, name, ctx: self.sni.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


Behaviour = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection runs `behave(conn, stop)` in a thread."""

    def __init__(self, behave: Behaviour, host: str = "127.0.0.1") -> None:
        self.behave = behave
        self.stop = threading.Event()
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.behave(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def read_head(conn: socket.socket) -> bytes:
    """The request's head (up to the blank line), and whatever body bytes came with it."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(raw: bytes) -> Behaviour:
    def behave(conn: socket.socket, stop: threading.Event) -> None:
        read_head(conn)
        conn.sendall(raw)

    return behave


def trickle(prefix: bytes, interval: float = 0.1) -> Behaviour:
    """Send `prefix`, then one byte every `interval` seconds, forever (until the test ends)."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        read_head(conn)
        conn.sendall(prefix)
        while not stop.wait(interval):
            conn.sendall(b"a")

    return behave


def silent(conn: socket.socket, stop: threading.Event) -> None:
    read_head(conn)
    stop.wait()


def reset(conn: socket.socket, stop: threading.Event) -> None:
    read_head(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ForwardProxy(RawServer):
    """A tiny forward proxy: absolute-form requests are relayed, CONNECT opens a tunnel. It
    records each request line and Host header, and only ever connects to loopback addresses (a
    target that is a name or anything else gets 403)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        super().__init__(self._proxy)

    def _proxy(self, conn: socket.socket, stop: threading.Event) -> None:
        data = read_head(conn)
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        host_header = next((v for k, v in headers if k.lower() == "host"), "")
        self.log.append((lines[0], host_header))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", str(parts.port or 80)
        try:
            allowed = ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            allowed = False
        if not allowed:
            conn.sendall(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        upstream = socket.create_connection((host.strip("[]"), int(port)))
        with upstream:
            if method == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                length = int(next((v for k, v in headers if k.lower() == "content-length"), 0))
                while len(rest) < length:
                    rest += conn.recv(65536)
                kept = [f"{k}: {v}" for k, v in headers if k.lower() != "connection"]
                request_line = f"{method} {parts.path or '/'}"
                request_line += f"?{parts.query}" if parts.query else ""
                upstream.sendall(
                    "\r\n".join(
                        [f"{request_line} HTTP/1.1", *kept, "Connection: close", ""]
                    ).encode("latin-1")
                    + b"\r\n"
                    + rest
                )
            _pipe(conn, upstream, stop)


def _pipe(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        readable, _, _ = select.select([a, b], [], [], 0.1)
        for src in readable:
            data = src.recv(65536)
            if not data:
                return
            (b if src is a else a).sendall(data)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def servers() -> Iterator[list]:
    made: list = []
    yield made
    for server in made:
        server.close()


@pytest.fixture
def http_server(servers: list) -> Callable[..., HTTPServerThread]:
    def make(**kwargs: object) -> HTTPServerThread:
        server = HTTPServerThread(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    return make


@pytest.fixture
def raw_server(servers: list) -> Callable[[Behaviour], RawServer]:
    def make(behave: Behaviour) -> RawServer:
        server = RawServer(behave)
        servers.append(server)
        return server

    return make


@pytest.fixture
def make_client() -> Iterator[Callable[..., OutboundClient]]:
    clients: list[OutboundClient] = []

    def make(
        *,
        names: tuple[str, ...] = (),
        networks: tuple[str, ...] = (),
        timeout: float = 10.0,
        max_read: int = 65536,
        **kwargs: object,
    ) -> OutboundClient:
        policy = OutboundPolicy(
            allow_names=frozenset(names),
            allow_networks=tuple(ipaddress.ip_network(n) for n in networks),
            timeout=timeout,
            max_read=max_read,
        )
        client = OutboundClient(policy, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA, name: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(ctx)
    return ctx


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def assert_clean(exc: BaseException) -> None:
    """Every error message is one printable line of at most 500 characters."""
    text = str(exc)
    assert text and len(text) <= 500 and text.isprintable(), text


# -- parse_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1\\.attacker.test/h", "backslash"),
        ("https://example.com\\@127.0.0.1/", "backslash"),
        ("https://example.com/a\\b", "backslash"),
        ("https://exam ple.com/", "whitespace"),
        ("https://example.com/a b", "whitespace"),
        ("https://example.com/?q=a\tb", "whitespace"),
        ("https://example.com/\n", "whitespace"),
        ("https://example.com/\x00", "U+0000"),
        ("https://example.com/\x7f", "U+007F"),
        ("https://example.com/\u202e", "U+202E"),
        ("https://exa\u200bmple.com/", "U+200B"),
        ("https://example.com/\u2028", "whitespace"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https://@example.com/", "credentials"),
        ("https:///x", "no host"),
        ("https://:443/", "no host"),
        ("https://", "no host"),
        ("https://example.com:0/", "port"),
        ("https://example.com:65536/", "port"),
        ("https://example.com:+443/", "port"),
        ("https://example.com:-1/", "port"),
        ("https://example.com:0x50/", "port"),
        ("https://example.com:443443/", "port"),
        ("https://example.com:/", "port is empty"),
        ("https://example.com:\u0661\u0662/", "port"),
        ("https://127.1/", "non-canonical IPv4"),
        ("https://0x7f.0.0.1/", "non-canonical IPv4"),
        ("https://0x7f000001/", "non-canonical IPv4"),
        ("https://2130706433/", "non-canonical IPv4"),
        ("https://0177.0.0.1/", "non-canonical IPv4"),
        ("https://127.0.0.01/", "non-canonical IPv4"),
        ("https://256.0.0.1/", "non-canonical IPv4"),
        ("https://1.2.3.4.5/", "non-canonical IPv4"),
        ("https://example.0x10/", "non-canonical IPv4"),
        ("https://\uff11\uff12\uff17.0.0.1/", "non-canonical IPv4"),
        ("https://[fe80::1%25eth0]/", "zone id"),
        ("https://[fe80::1%eth0]/", "zone id"),
        ("https://[::1/", "unterminated"),
        ("https://[::1]x/", "after the IPv6"),
        ("https://[v1.abc]/", "not a valid IPv6"),
        ("https://[127.0.0.1]/", "not a valid IPv6"),
        ("https://::1/", "brackets"),
        ("https://ex%61mple.com/", "percent"),
        ("https://exa_mple.com!/", "not a valid host"),
        ("https://a..b.example/", "empty label"),
        ("https://.example/", "empty label"),
        ("https://example.com../", "empty label"),
        ("https://" + "a" * 64 + ".example/", "invalid label"),
        ("https://" + "a." * 130 + "example/", "253"),
        ("https://xn--zz.example/", "A-label"),
        ("https://a\u3002\u0301b.example/", "international"),
        ("javascript:alert(1)", "scheme"),
        ("ftp://example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_", "scheme"),
        ("//example.com/", "absolute"),
        ("example.com/", "absolute"),
        ("https:example.com", "'//'"),
        ("https:/example.com", "'//'"),
        ("http://example.com/", "must use https"),
    ],
)
def test_parse_url_refuses_hostile_urls(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL) as info:
        parse_url(url)
    assert reason in str(info.value)
    assert_clean(info.value)


@pytest.mark.parametrize(
    ("url", "host", "port", "target", "normalised"),
    [
        (
            "https://bücher.example/x",
            "xn--bcher-kva.example",
            443,
            "/x",
            "https://xn--bcher-kva.example/x",
        ),
        ("HTTPS://Example.COM/Path", "example.com", 443, "/Path", "https://example.com/Path"),
        ("https://example.com./", "example.com", 443, "/", "https://example.com/"),
        ("https://example.com", "example.com", 443, "/", "https://example.com/"),
        ("https://example.com:443/a", "example.com", 443, "/a", "https://example.com/a"),
        ("https://example.com:8443", "example.com", 8443, "/", "https://example.com:8443/"),
        ("https://example.com?q=1", "example.com", 443, "/?q=1", "https://example.com/?q=1"),
        ("https://example.com/a?b=c&d=e#frag", "example.com", 443, "/a?b=c&d=e", None),
        ("https://example.com/#only", "example.com", 443, "/", "https://example.com/"),
        ("https://example.com/caf\u00e9?q=\u00fc", "example.com", 443, "/caf%C3%A9?q=%C3%BC", None),
        ("https://example.com/a%2Fb?x=%20", "example.com", 443, "/a%2Fb?x=%20", None),
        (
            'https://example.com/"<>{}|^`[]',
            "example.com",
            443,
            "/%22%3C%3E%7B%7D%7C%5E%60%5B%5D",
            None,
        ),
        ("https://example.com/100%", "example.com", 443, "/100%25", None),
        ("https://example.com/a/./b/../c/", "example.com", 443, "/a/c/", None),
        ("https://example.com/a/%2e%2E/b", "example.com", 443, "/b", None),
        ("https://example.com/..", "example.com", 443, "/", None),
        ("https://example.com/?a?b/c", "example.com", 443, "/?a?b/c", None),
        ("https://my_host.example/", "my_host.example", 443, "/", None),
        ("https://8.8.8.8/", "8.8.8.8", 443, "/", None),
        ("https://8.8.8.8.:8443/", "8.8.8.8", 8443, "/", "https://8.8.8.8:8443/"),
        ("https://[2606:4700:0::1111]:8443/x", "2606:4700::1111", 8443, "/x", None),
        ("https://[::ffff:1.2.3.4]/", "::ffff:102:304", 443, "/", None),
        ("https://1.2.3.4.example/", "1.2.3.4.example", 443, "/", None),
        ("https://0xdeadbeef.example/", "0xdeadbeef.example", 443, "/", None),
        ("https://example.0xz/", "example.0xz", 443, "/", None),
    ],
)
def test_parse_url_normalises(
    url: str, host: str, port: int, target: str, normalised: str | None
) -> None:
    parsed = parse_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == (
        "https",
        host,
        port,
        target,
    )
    if normalised is not None:
        assert parsed.url == normalised
    assert parse_url(parsed.url) == parsed  # the normalised form is a fixed point


def test_parse_url_literals_and_host_header() -> None:
    v4 = parse_url("http://127.0.0.1:8080/x", require_https=False)
    assert v4.literal == ipaddress.IPv4Address("127.0.0.1")
    assert v4.host_header == "127.0.0.1:8080"
    v6 = parse_url("https://[::1]/")
    assert v6.literal == ipaddress.IPv6Address("::1") and v6.host == "::1"
    assert v6.host_header == "[::1]" and v6.url == "https://[::1]/"
    assert parse_url("https://[::1]:444/").host_header == "[::1]:444"
    name = parse_url("http://partner.test/", require_https=False)
    assert name.literal is None and name.port == 80 and name.host_header == "partner.test"


def test_parse_url_http_only_for_allowed_hosts() -> None:
    assert parse_url("http://partner.test/", allow_http_hosts={"partner.test"}).scheme == "http"
    assert parse_url("http://other.test/", require_https=False).scheme == "http"
    with pytest.raises(UnsafeURL, match="plain http only for hosts in outbound_allow"):
        parse_url("http://other.test/", allow_http_hosts={"partner.test"})


def test_parse_url_bounds_what_it_reads() -> None:
    with pytest.raises(UnsafeURL, match="longer than"):
        parse_url("https://example.com/" + "a" * 10000)
    with pytest.raises(UnsafeURL) as info:
        parse_url("https://" + "\u00e9" * 5000 + "/")
    assert_clean(info.value)
    with pytest.raises(UnsafeURL, match="expected text"):
        parse_url(b"https://example.com/")  # type: ignore[arg-type]


# -- why_not_public --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addr", "label"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared address space"),
        ("192.0.0.8", "IETF protocol assignment"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("100::1", "discard-only"),
        # IPv4-mapped
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        # IPv4-compatible (deprecated): judged by the IPv4, never public
        ("::127.0.0.1", "loopback"),
        ("::10.0.0.1", "private"),
        ("::8.8.8.8", "reserved"),
        # NAT64 well-known prefix and local-use prefix
        ("64:ff9b::127.0.0.1", "loopback"),
        ("64:ff9b::10.0.0.1", "private"),
        ("64:ff9b:1::127.0.0.1", "loopback"),
        ("64:ff9b:1::8.8.8.8", "non-public"),
        ("64:ff9b:1:7f00:0:1::", "loopback"),
        # 6to4 embeds the IPv4 in bits 16..47
        ("2002:7f00:1::1", "loopback"),
        ("2002:a00:1::1", "private"),
        ("2002:a9fe:a9fe::1", "link-local"),
        # Teredo: the client address is obfuscated; refused outright
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("2001::1", "Teredo"),
    ],
)
def test_why_not_public(addr: str, label: str) -> None:
    assert why_not_public(ipaddress.ip_address(addr)) == label
    assert why_not_public(addr) == label


@pytest.mark.parametrize(
    "addr",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:808:808::1",
    ],
)
def test_why_not_public_accepts_public(addr: str) -> None:
    assert why_not_public(addr) is None


# -- policy --------------------------------------------------------------------------------------


def test_policy_from_settings() -> None:
    settings = Settings(outbound_allow="Partner.Test., 127.0.0.0/8, [::1], 10.1.2.3")
    policy = OutboundPolicy.from_settings(settings)
    assert policy.allow_names == frozenset({"partner.test"})
    assert set(policy.allow_networks) == {
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.1.2.3/32"),
    }
    assert policy.timeout == 15.0 and policy.max_read == 65536


def test_check_judges_every_address(make_client: Callable[..., OutboundClient]) -> None:
    resolver = StubResolver(
        {
            "news.example": [["8.8.8.8", "169.254.169.254"]],
            "mapped.example": [["::ffff:127.0.0.1"]],
            "public.example": [["8.8.8.8", "2606:4700::1111"]],
            "partner.test": [["10.0.0.1"]],
            "mixed.test": [["127.0.0.1", "8.8.8.8"]],
            "local.test": [["127.0.0.1"]],
        }
    )
    client = make_client(names=("partner.test",), networks=("127.0.0.0/8",), resolver=resolver)
    with pytest.raises(UnsafeURL) as info:
        client.check_sync("https://news.example/")
    assert str(info.value) == (
        "host 'news.example' resolves to link-local address 169.254.169.254; only public "
        "addresses can "
        "be called unless allowed by outbound_allow"
    )
    # An allowed network counts for the IPv4 address inside an IPv4-mapped one.
    assert client.check_sync("https://mapped.example/").host == "mapped.example"
    assert client.check_sync("https://public.example/x").target == "/x"
    with pytest.raises(UnsafeURL, match="must use https"):
        client.check_sync("http://public.example/")
    assert client.check_sync("http://public.example/", require_https=False).scheme == "http"
    # An allowed name: any address, plain http too, and not even looked up at registration.
    assert client.check_sync("http://partner.test/").scheme == "http"
    assert resolver.count("partner.test") == 0
    # Every address in allowed networks: http allowed; only some: https needed.
    assert client.check_sync("http://local.test/").scheme == "http"
    with pytest.raises(UnsafeURL, match="must use https"):
        client.check_sync("http://mixed.test/")
    assert client.check_sync("https://mixed.test/").host == "mixed.test"
    # Literals are judged like resolved addresses, without DNS.
    with pytest.raises(UnsafeURL, match=r"address 10\.0\.0\.2 is not public \(private\)"):
        client.check_sync("https://10.0.0.2/")
    assert client.check_sync("http://127.0.0.1:8080/").port == 8080
    with pytest.raises(UnsafeURL, match="link-local"):
        client.check_sync("https://[::ffff:169.254.169.254]/")


def test_check_without_allow_list(make_client: Callable[..., OutboundClient]) -> None:
    resolver = StubResolver(
        {"mapped.example": [["::ffff:127.0.0.1"]], "nat64.example": [["64:ff9b::a00:1"]]}
    )
    client = make_client(resolver=resolver)
    with pytest.raises(UnsafeURL, match=r"loopback address ::ffff:7f00:1"):
        client.check_sync("https://mapped.example/")
    with pytest.raises(UnsafeURL, match="private address 64:ff9b::a00:1"):
        client.check_sync("https://nat64.example/")
    with pytest.raises(UnsafeURL, match="loopback"):
        client.check_sync("https://127.0.0.1/")
    with pytest.raises(UnsafeURL, match="must use https"):
        client.check_sync("http://8.8.8.8/")


def test_async_check_returns_checked_addresses(make_client: Callable[..., OutboundClient]) -> None:
    resolver = StubResolver({"public.example": [["8.8.8.8", "8.8.8.8", "2606:4700::1111"]]})
    client = make_client(resolver=resolver)
    checked = asyncio.run(client.check("https://public.example/"))  # from a foreign loop
    assert checked.target.host == "public.example"
    assert [str(a) for a in checked.addresses] == ["8.8.8.8", "2606:4700::1111"]
    assert resolver.calls == [("public.example", 443)]


def test_check_sync_resolve_modes(make_client: Callable[..., OutboundClient]) -> None:
    slow = StubResolver({"slow.example": [["8.8.8.8"]]}, delay=30)
    client = make_client(resolver=slow)
    # resolve=False: names are not looked up, only the scheme and literals are judged.
    assert client.check_sync("https://slow.example/", resolve=False).host == "slow.example"
    assert slow.calls == []
    with pytest.raises(UnsafeURL, match="must use https"):
        client.check_sync("http://slow.example/", resolve=False)
    with pytest.raises(UnsafeURL, match="loopback"):
        client.check_sync("https://127.0.0.1/", resolve=False)
    # A lookup slower than resolve_timeout: neither allowed nor refused.
    with pytest.raises(ResolveTimedOut) as info:
        client.check_sync("https://slow.example/", resolve_timeout=0.2)
    assert not isinstance(info.value, UnsafeURL)
    assert_clean(info.value)
    # A name that does not resolve is refused (and an http one is told about https first).
    client = make_client(resolver=StubResolver({}))
    with pytest.raises(DNSFailure, match="does not resolve"):
        client.check_sync("https://nowhere.example/")
    with pytest.raises(UnsafeURL, match="must use https"):
        client.check_sync("http://nowhere.example/")


# -- pinning: one lookup, the connection goes to the checked address ---------------------------


def test_connection_goes_to_the_first_checked_answer(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    good = http_server(host="127.0.0.1")
    other = http_server(host="127.0.0.2")
    # Allowed first, refused second: the check and the connection both use the first answer.
    resolver = StubResolver({"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    client = make_client(networks=("127.0.0.1/32",), resolver=resolver)
    response = client.request_sync("POST", f"http://rebind.test:{good.port}/hook", body=b"{}")
    assert response.status == 200 and response.address == "127.0.0.1"
    assert resolver.count("rebind.test") == 1
    assert [s.local[0] for s in good.seen] == ["127.0.0.1"]
    assert good.seen[0].headers["host"] == f"rebind.test:{good.port}"
    assert good.seen[0].body == b"{}"
    assert other.seen == []
    # The next request resolves again (once) and is judged by that answer.
    with pytest.raises(UnsafeURL, match="loopback address 127.0.0.2"):
        client.request_sync("POST", f"http://rebind.test:{good.port}/hook", require_https=False)
    assert resolver.count("rebind.test") == 2
    assert len(good.seen) == 1 and other.seen == []


def test_refused_first_answer_sends_nothing(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server(host="127.0.0.1")
    resolver = StubResolver({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    client = make_client(networks=("127.0.0.1/32",), resolver=resolver)
    with pytest.raises(UnsafeURL, match="loopback address 127.0.0.2"):
        client.request_sync("GET", f"http://rebind.test:{server.port}/", require_https=False)
    assert resolver.count("rebind.test") == 1
    assert server.seen == []


def test_each_request_uses_its_own_single_answer(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    one = http_server(host="127.0.0.1")
    # Both answers are allowed; only 127.0.0.1 listens on this port, so where each request
    # went shows which answer it used.
    resolver = StubResolver({"flip.test": [["127.0.0.1"], ["127.0.0.2"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver)
    first = client.request_sync("GET", f"http://flip.test:{one.port}/a")
    assert first.address == "127.0.0.1"
    with pytest.raises(ConnectFailed, match="refused") as info:
        client.request_sync("GET", f"http://flip.test:{one.port}/b")
    assert "127.0.0.2" in str(info.value)
    assert resolver.count("flip.test") == 2
    assert one.paths() == ["/a"]


def test_next_checked_address_when_the_first_refuses(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server(host="127.0.0.1")
    resolver = StubResolver({"two.test": [["127.0.0.2", "127.0.0.1"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver)
    response = client.request_sync("GET", f"http://two.test:{server.port}/")
    assert response.status == 200 and response.address == "127.0.0.1"
    assert resolver.count("two.test") == 1


def test_allowed_name_over_plain_http(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server()
    resolver = StubResolver({"partner.test": [["127.0.0.1"]], "news.example": [["127.0.0.1"]]})
    client = make_client(names=("partner.test",), resolver=resolver)
    response = client.request_sync(
        "POST",
        f"http://partner.test:{server.port}/hook?x=1",
        headers={"Content-Type": "application/json", "X-Custom": "v", "Host": "evil.test"},
        body=b'{"a": 1}',
    )
    assert response.status == 200 and response.body == b"ok" and not response.truncated
    assert response.address == "127.0.0.1" and response.elapsed >= 0
    assert response.headers["content-type"] == "text/plain"
    seen = server.seen[0]
    assert (seen.method, seen.path, seen.body) == ("POST", "/hook?x=1", b'{"a": 1}')
    assert seen.headers["host"] == f"partner.test:{server.port}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["x-custom"] == "v"
    assert seen.headers["user-agent"] == "syndication/1"
    assert seen.headers["accept-encoding"] == "identity"
    assert "cookie" not in seen.headers and "authorization" not in seen.headers
    with pytest.raises(UnsafeURL, match="loopback address 127.0.0.1"):
        client.request_sync("POST", f"https://news.example:{server.port}/hook")
    assert len(server.seen) == 1


def test_ip_literal_is_not_resolved(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server()
    resolver = StubResolver({})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver)
    response = client.request_sync("GET", f"http://127.0.0.1:{server.port}/lit")
    assert response.status == 200 and resolver.calls == []
    assert server.seen[0].headers["host"] == f"127.0.0.1:{server.port}"


def test_ipv6_literal(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    try:
        server = http_server(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    client = make_client(networks=("::1/128",))
    response = client.request_sync("GET", f"http://[::1]:{server.port}/six")
    assert response.status == 200 and response.address == "::1"
    assert server.seen[0].headers["host"] == f"[::1]:{server.port}"


def test_no_cookies_kept_and_keep_alive_only_for_fully_read_bodies(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server(
        routes={
            "/cookie": lambda s: (200, [("Set-Cookie", "sid=1; Path=/")], b"x"),
            "/big": lambda s: (200, [], b"b" * 200_000),
        }
    )
    client = make_client(networks=("127.0.0.0/8",))
    base = f"http://127.0.0.1:{server.port}"
    client.request_sync("GET", base + "/cookie")
    client.request_sync("GET", base + "/after")
    assert "cookie" not in server.seen[1].headers
    # Fully read: the connection was reused (same client port).
    assert server.seen[0].peer == server.seen[1].peer
    big = client.request_sync("GET", base + "/big")
    assert big.truncated and len(big.body) == 65536
    client.request_sync("GET", base + "/next")
    # A truncated body's connection is closed, never reused.
    assert server.seen[3].peer != server.seen[2].peer


# -- TLS -----------------------------------------------------------------------------------------


def test_https_pinned_with_sni_and_certificate_by_name(
    ca: trustme.CA,
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
) -> None:
    server = http_server(tls=server_tls(ca, "partner.test"))
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver, ssl_context=client_tls(ca))
    response = client.request_sync("POST", f"https://partner.test:{server.port}/hook", body=b"x")
    assert response.status == 200 and response.address == "127.0.0.1"
    assert server.sni == ["partner.test"]
    assert server.seen[0].headers["host"] == f"partner.test:{server.port}"
    assert resolver.count("partner.test") == 1


def test_https_wrong_certificate_name_fails(
    ca: trustme.CA,
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
) -> None:
    server = http_server(tls=server_tls(ca, "other.test"))
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver, ssl_context=client_tls(ca))
    with pytest.raises(ConnectFailed, match="certificate") as info:
        client.request_sync("GET", f"https://partner.test:{server.port}/")
    assert "partner.test" in str(info.value)
    assert_clean(info.value)
    assert server.seen == []


def test_https_untrusted_ca_fails(
    ca: trustme.CA,
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
) -> None:
    server = http_server(tls=server_tls(ca, "partner.test"))
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver)  # system CAs only
    with pytest.raises(ConnectFailed, match="certificate"):
        client.request_sync("GET", f"https://partner.test:{server.port}/")


def test_ca_bundle_from_environment(
    ca: trustme.CA,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
) -> None:
    bundle = f"{tmp_path}/ca.pem"
    ca.cert_pem.write_to_path(bundle)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    server = http_server(tls=server_tls(ca, "partner.test"))
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(networks=("127.0.0.0/8",), resolver=resolver)
    assert client.request_sync("GET", f"https://partner.test:{server.port}/").status == 200


# -- one deadline --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behave",
    [
        pytest.param(trickle(b"HTTP/1.1 200 OK\r\nX-Slow: "), id="trickled-headers"),
        pytest.param(
            trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"), id="trickled-body"
        ),
        pytest.param(silent, id="never-answers"),
    ],
)
def test_deadline_covers_the_whole_exchange(
    behave: Behaviour,
    make_client: Callable[..., OutboundClient],
    raw_server: Callable[[Behaviour], RawServer],
) -> None:
    server = raw_server(behave)
    client = make_client(networks=("127.0.0.0/8",))
    # A byte every 0.1 s never lets a per-read timeout fire; only a whole-exchange deadline can.
    with pytest.raises(TimedOut) as info:
        client.request_sync("GET", f"http://127.0.0.1:{server.port}/", timeout=1.0)
    assert_clean(info.value)
    assert server.connections >= 1


def test_deadline_covers_dns(make_client: Callable[..., OutboundClient]) -> None:
    resolver = StubResolver({"slow.example": [["8.8.8.8"]]}, delay=30)
    client = make_client(resolver=resolver)
    with pytest.raises(TimedOut):
        client.request_sync("GET", "https://slow.example/", timeout=0.3)


def test_reset_is_connect_failed(
    make_client: Callable[..., OutboundClient], raw_server: Callable[[Behaviour], RawServer]
) -> None:
    server = raw_server(reset)
    client = make_client(networks=("127.0.0.0/8",))
    with pytest.raises(ConnectFailed) as info:
        client.request_sync("POST", f"http://127.0.0.1:{server.port}/", body=b"x")
    assert_clean(info.value)


def test_refused_is_connect_failed(make_client: Callable[..., OutboundClient]) -> None:
    with socket.socket() as s:  # a port nobody listens on (bound, not listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        client = make_client(networks=("127.0.0.0/8",))
        with pytest.raises(ConnectFailed, match="connection refused"):
            client.request_sync("GET", f"http://127.0.0.1:{port}/")


# -- read cap, decompression, redirects ------------------------------------------------------


def test_read_cap(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server(
        routes={
            "/huge": lambda s: (200, [], b"h" * 10_000_000),
            "/exact": lambda s: (200, [], b"e" * 1000),
        }
    )
    client = make_client(networks=("127.0.0.0/8",))
    base = f"http://127.0.0.1:{server.port}"
    huge = client.request_sync("GET", base + "/huge")
    assert len(huge.body) == 65536 and huge.truncated
    small = client.request_sync("GET", base + "/huge", max_read=10)
    assert small.body == b"h" * 10 and small.truncated
    exact = client.request_sync("GET", base + "/exact", max_read=1000)
    assert len(exact.body) == 1000 and not exact.truncated


def test_decompression_is_bounded(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    text = b"hello " * 100
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = raw_deflate.compress(text) + raw_deflate.flush()
    server = http_server(
        routes={
            "/bomb": lambda s: (200, [("Content-Encoding", "gzip")], bomb),
            "/gzip": lambda s: (200, [("Content-Encoding", "gzip")], gzip.compress(text)),
            "/zlib": lambda s: (200, [("Content-Encoding", "deflate")], zlib.compress(text)),
            "/raw": lambda s: (200, [("Content-Encoding", "deflate")], raw),
            "/broken": lambda s: (200, [("Content-Encoding", "gzip")], b"not gzip at all"),
        }
    )
    client = make_client(networks=("127.0.0.0/8",))
    base = f"http://127.0.0.1:{server.port}"
    exploded = client.request_sync("GET", base + "/bomb", decompress=True)
    assert len(exploded.body) == 65536 and exploded.truncated
    assert server.seen[-1].headers["accept-encoding"] == "gzip, deflate"
    for path in ("/gzip", "/zlib", "/raw"):
        response = client.request_sync("GET", base + path, decompress=True)
        assert response.body == text and not response.truncated, path
    as_sent = client.request_sync("GET", base + "/gzip")
    assert as_sent.body == gzip.compress(text) or gzip.decompress(as_sent.body) == text
    assert server.seen[-1].headers["accept-encoding"] == "identity"
    with pytest.raises(BadResponse, match="gzip"):
        client.request_sync("GET", base + "/broken", decompress=True)


def test_redirects_are_returned_not_followed(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server(routes={"/from": lambda s: (302, [("Location", "/to")], b"")})
    client = make_client(networks=("127.0.0.0/8",))
    response = client.request_sync("POST", f"http://127.0.0.1:{server.port}/from", body=b"x")
    assert response.status == 302 and response.headers["Location"] == "/to"
    assert server.paths() == ["/from"]


# -- odd responses -------------------------------------------------------------------------------


def test_odd_header_values_are_safe_text(
    make_client: Callable[..., OutboundClient], raw_server: Callable[[Behaviour], RawServer]
) -> None:
    server = raw_server(
        answer(
            b"HTTP/1.1 200 Fine\xe9\r\nX-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n"
            b"X-Junk: \xff\xfe\x80\x9b[31m\r\nX-Dup: 1\r\nX-Dup: 2\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\nok"
        )
    )
    client = make_client(networks=("127.0.0.0/8",))
    response = client.request_sync("GET", f"http://127.0.0.1:{server.port}/")
    assert response.status == 200 and response.body == b"ok"
    assert response.headers["x-latin"] == "café"
    assert response.headers["x-utf8"] == "café"
    assert response.headers.getall("x-dup") == ["1", "2"]
    for name, value in response.headers.items():
        value.encode("utf-8")  # no lone surrogates
        assert value.isprintable(), (name, value)
    assert response.reason.isprintable() and response.reason.startswith("Fine")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", id="huge"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(500)) + b"\r\n",
            id="too-many",
        ),
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", id="bad-status"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n", id="two-cl"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad-chunk"
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-N: a\x00b\r\nContent-Length: 0\r\n\r\n", id="nul"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", id="short-body"),
    ],
)
def test_malformed_responses(
    raw: bytes,
    make_client: Callable[..., OutboundClient],
    raw_server: Callable[[Behaviour], RawServer],
) -> None:
    server = raw_server(answer(raw))
    client = make_client(networks=("127.0.0.0/8",))
    with pytest.raises(BadResponse) as info:
        client.request_sync("POST", f"http://127.0.0.1:{server.port}/", body=b"x")
    assert_clean(info.value)


def test_closed_without_answer_is_connect_failed(
    make_client: Callable[..., OutboundClient], raw_server: Callable[[Behaviour], RawServer]
) -> None:
    server = raw_server(answer(b""))
    client = make_client(networks=("127.0.0.0/8",))
    with pytest.raises(ConnectFailed, match="closed the connection"):
        client.request_sync("POST", f"http://127.0.0.1:{server.port}/", body=b"x")


def test_header_with_control_characters(
    make_client: Callable[..., OutboundClient], raw_server: Callable[[Behaviour], RawServer]
) -> None:
    server = raw_server(
        answer(b"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\x7fc\r\nContent-Length: 0\r\n\r\n")
    )
    client = make_client(networks=("127.0.0.0/8",))
    try:
        response = client.request_sync("GET", f"http://127.0.0.1:{server.port}/")
    except BadResponse as exc:
        assert_clean(exc)
    else:
        assert response.headers["x-ctl"].isprintable()


@pytest.mark.parametrize(("status", "reason"), [(599, "Odd"), (299, "Also Odd"), (418, "Teapot")])
def test_unusual_status_passed_through(
    status: int,
    reason: str,
    make_client: Callable[..., OutboundClient],
    raw_server: Callable[[Behaviour], RawServer],
) -> None:
    server = raw_server(answer(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode()))
    client = make_client(networks=("127.0.0.0/8",))
    response = client.request_sync("GET", f"http://127.0.0.1:{server.port}/")
    assert (response.status, response.reason) == (status, reason)


def test_bad_request_arguments(make_client: Callable[..., OutboundClient]) -> None:
    client = make_client(networks=("127.0.0.0/8",))
    with pytest.raises(ValueError, match="header"):
        client.request_sync("GET", "http://127.0.0.1:9/", headers={"X-A": "b\r\nInjected: 1"})
    with pytest.raises(ValueError, match="header name"):
        client.request_sync("GET", "http://127.0.0.1:9/", headers={"Bad Name": "v"})
    with pytest.raises(ValueError, match="method"):
        client.request_sync("GE T", "http://127.0.0.1:9/")


# -- proxies -------------------------------------------------------------------------------------


def test_http_through_proxy_goes_to_the_checked_address(
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
    servers: list,
) -> None:
    backend = http_server()
    proxy = ForwardProxy()
    servers.append(proxy)
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(
        names=("partner.test",),
        resolver=resolver,
        proxies={"http": f"http://127.0.0.1:{proxy.port}"},
    )
    response = client.request_sync("POST", f"http://partner.test:{backend.port}/path", body=b"x")
    assert response.status == 200 and response.address == "127.0.0.1"
    assert proxy.log == [
        (f"POST http://127.0.0.1:{backend.port}/path HTTP/1.1", f"partner.test:{backend.port}")
    ]
    assert backend.seen[0].path == "/path" and backend.seen[0].body == b"x"
    assert backend.seen[0].headers["host"] == f"partner.test:{backend.port}"
    assert resolver.count("partner.test") == 1


def test_https_through_proxy_tunnels_to_the_checked_address(
    ca: trustme.CA,
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
    servers: list,
) -> None:
    backend = http_server(tls=server_tls(ca, "partner.test"))
    proxy = ForwardProxy()
    servers.append(proxy)
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(
        networks=("127.0.0.0/8",),
        resolver=resolver,
        ssl_context=client_tls(ca),
        proxies={"https": f"http://127.0.0.1:{proxy.port}"},
    )
    response = client.request_sync("GET", f"https://partner.test:{backend.port}/secure")
    assert response.status == 200 and response.address == "127.0.0.1"
    assert proxy.log[0][0] == f"CONNECT 127.0.0.1:{backend.port} HTTP/1.1"
    assert backend.sni == ["partner.test"]
    assert backend.seen[0].headers["host"] == f"partner.test:{backend.port}"


def test_no_proxy_and_environment(
    make_client: Callable[..., OutboundClient],
    http_server: Callable[..., HTTPServerThread],
    servers: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = http_server()
    proxy = ForwardProxy()
    servers.append(proxy)
    for name in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "partner.test")
    resolver = StubResolver({"partner.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    # Without proxies= the environment is ignored.
    plain = make_client(names=("partner.test", "other.test"), resolver=resolver)
    plain.request_sync("GET", f"http://other.test:{backend.port}/direct")
    assert proxy.log == []
    proxies = OutboundClient.proxies_from_environment()
    assert proxies["http"] == f"http://127.0.0.1:{proxy.port}" and proxies["no"] == "partner.test"
    client = make_client(names=("partner.test", "other.test"), resolver=resolver, proxies=proxies)
    client.request_sync("GET", f"http://partner.test:{backend.port}/bypassed")
    assert proxy.log == []
    client.request_sync("GET", f"http://other.test:{backend.port}/proxied")
    assert [line for line, _ in proxy.log] == [
        f"GET http://127.0.0.1:{backend.port}/proxied HTTP/1.1"
    ]
    assert backend.paths() == ["/direct", "/bypassed", "/proxied"]


# -- threads and the loop -----------------------------------------------------------------------


def test_request_sync_from_many_threads(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server()
    resolver = StubResolver({"partner.test": [["127.0.0.1"]]})
    client = make_client(names=("partner.test",), resolver=resolver)
    results: list[int] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                url = f"http://partner.test:{server.port}/t{n}/{i}"
                results.append(client.request_sync("POST", url, body=b"x").status)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [200] * 80
    assert len(server.seen) == 80 and resolver.count("partner.test") == 80


def test_submit_and_async_from_a_foreign_loop(
    make_client: Callable[..., OutboundClient], http_server: Callable[..., HTTPServerThread]
) -> None:
    server = http_server()
    client = make_client(networks=("127.0.0.0/8",))
    base = f"http://127.0.0.1:{server.port}"
    futures = [client.submit(client.request("GET", f"{base}/s{i}")) for i in range(10)]
    assert [f.result().status for f in futures] == [200] * 10

    async def from_elsewhere() -> list[int]:
        responses = await asyncio.gather(*(client.request("GET", f"{base}/a{i}") for i in range(5)))
        return [r.status for r in responses]

    assert asyncio.run(from_elsewhere()) == [200] * 5


def test_run_from_the_loop_thread_raises(make_client: Callable[..., OutboundClient]) -> None:
    client = make_client()

    async def inner() -> str:
        with pytest.raises(RuntimeError, match="deadlock"):
            client.run(asyncio.sleep(0))
        with pytest.raises(RuntimeError, match="deadlock"):
            client.request_sync("GET", "https://example.com/")
        return "ok"

    assert client.run(inner()) == "ok"


def test_run_timeout_and_close(make_client: Callable[..., OutboundClient]) -> None:
    client = make_client()
    with pytest.raises(TimedOut):
        client.run(asyncio.sleep(30), timeout=0.1)
    client.close()
    client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        client.request_sync("GET", "https://example.com/")


def test_errors_are_outbound_errors() -> None:
    for cls in (UnsafeURL, DNSFailure, TimedOut, ResolveTimedOut, ConnectFailed, BadResponse):
        assert issubclass(cls, OutboundError)
    assert issubclass(UnsafeURL, ValueError) and issubclass(TimedOut, TimeoutError)
    long = ConnectFailed("peer said: " + "\x00\x1b[2J\u202e" * 400 + "\nsecond line")
    assert_clean(long)
    assert "\n" not in str(long) and "\x00" not in str(long)
