"""The outbound HTTP client: every call the service makes to a URL it was given goes through here.

One call is: parse the URL strictly (`urls.parse_url`), resolve the host once, check every
address against the policy (`policy.judge`), connect to one of those checked addresses (the
next one only if the first refuses the connection), send, read at most `max_read` bytes, all
under one deadline from the DNS lookup to the last byte read. Redirects are returned, never
followed. No cookies, no .netrc, no proxy from the environment unless the caller passes one.

Pinning. The request URL given to aiohttp holds the checked IP address, not the name; the name
travels in the `Host` header and, for https, as `server_hostname`, so SNI and the certificate
check use the host name while the TCP connection goes to the address that was checked. Nothing
resolves the name a second time, so DNS rebinding (a name answering a public address to the
check and 127.0.0.1 to the connection) has no second answer to exploit. aiohttp keys its pool by
(address, port, TLS, server_hostname, proxy), so a pooled TLS connection is never reused for
another name.

Proxies. None by default (the environment is not read unless the caller asks:
`OutboundClient.proxies_from_environment()`, read once). With a proxy the request still goes to
the CHECKED ADDRESS: a plain-http request is sent to the proxy as
`POST http://<address>:<port>/path` with `Host: <name>:<port>`, and an https request opens the
tunnel with `CONNECT <address>:<port>`, then TLS inside it with SNI and the certificate checked
for the host name. So pinning holds through a proxy (the proxy never resolves the name), and a
proxy that filters destinations sees addresses, not names: allow-list addresses there.

Threads. The client owns one asyncio event loop in a daemon thread (started on first use,
stopped by `close()`), one aiohttp session on it, and a bounded thread pool for getaddrinfo
(the loop's default executor). Async callers await `check` / `request` (from any loop: work is
handed to the client's loop); threads use `request_sync`, `check_sync`, `run` or `submit`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import ipaddress
import os
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict
from yarl import URL

from .addresses import IPAddress
from .errors import (
    BadResponse,
    ConnectFailed,
    DNSFailure,
    OutboundError,
    ResolveTimedOut,
    TimedOut,
    shown,
)
from .policy import Checked, OutboundPolicy, judge
from .proxies import Proxies
from .resolver import Resolver, SystemResolver, unique_addresses
from .response import MAX_REASON, Response, read_body, safe_text
from .urls import Target, parse_url

T = TypeVar("T")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

# Response header limits given to aiohttp's parser (a longer line or more headers is a
# BadResponse): the status line and each header line, each header field, the header count.
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 128
TARGET_CACHE = 4096  # parsed URLs kept

# Headers the client sets itself; a caller's are dropped (Host must match the checked target,
# framing and encoding are the client's business).
_CLIENT_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BREAKS = re.compile(r"[\r\n\x00]")
_NO_AIOHTTP_TIMEOUT = aiohttp.ClientTimeout(
    total=None, connect=None, sock_read=None, sock_connect=None
)


def default_ssl_context() -> ssl.SSLContext:
    """Certificate verification with the CA bundle named by REQUESTS_CA_BUNDLE or SSL_CERT_FILE
    (as requests reads them), else the system's."""
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or None
    return ssl.create_default_context(cafile=cafile)


class OutboundClient:
    """The one client for calls to URLs the service was given (webhooks, WebSub, imports).

    Thread-safe; create one per process (it owns a thread, a loop and a connection pool) and
    `close()` it when done (or use it as a context manager)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "syndication/1",
        proxies: Mapping[str, str] | Proxies | None = None,
        resolver_threads: int = 16,
        connection_limit: int = 1000,
    ) -> None:
        self.policy = policy
        self.resolver: Resolver = resolver if resolver is not None else SystemResolver()
        self.ssl_context = ssl_context if ssl_context is not None else default_ssl_context()
        self.user_agent = user_agent
        self.proxies = proxies if isinstance(proxies, Proxies) else Proxies.from_mapping(proxies)
        self._resolver_threads = resolver_threads
        self._connection_limit = connection_limit
        self._lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._session: aiohttp.ClientSession | None = None
        # URLs as parsed (parse_url is a pure function of the string; a fan-out sends to the
        # same URLs again and again). Never the DNS answers: every request resolves anew.
        self._targets: dict[str, Target] = {}
        self._literal_checks: dict[tuple[str, bool], Checked] = {}
        self._urls: dict[tuple[str, IPAddress], URL] = {}

    @staticmethod
    def proxies_from_environment() -> dict[str, str]:
        """HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY as a `proxies=` mapping (read now,
        once; the client never reads the environment by itself)."""
        return dict(urllib.request.getproxies())

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> asyncio.AbstractEventLoop:
        """The client's loop, started (thread, executor, session) on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the outbound client is closed")
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            executor = ThreadPoolExecutor(
                self._resolver_threads, thread_name_prefix="outbound-resolve"
            )
            loop.set_default_executor(executor)
            thread = threading.Thread(
                target=_run_loop, args=(loop,), name="outbound-loop", daemon=True
            )
            thread.start()
            try:
                session = asyncio.run_coroutine_threadsafe(self._open_session(), loop).result()
            except BaseException:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()
                executor.shutdown(wait=False, cancel_futures=True)
                raise
            self._loop, self._thread, self._executor, self._session = (
                loop,
                thread,
                executor,
                session,
            )
            return loop

    async def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._connection_limit,
            limit_per_host=0,
            use_dns_cache=False,
            ssl=self.ssl_context,
            # Only a proxy's own host name is ever looked up by aiohttp (request URLs hold
            # addresses); the threaded resolver keeps that on the client's bounded executor.
            resolver=aiohttp.ThreadedResolver(),
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            timeout=_NO_AIOHTTP_TIMEOUT,  # the client's own deadline covers everything
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            max_headers=MAX_HEADERS,
            skip_auto_headers=("Content-Type",),
            headers={"User-Agent": self.user_agent},
        )

    def close(self) -> None:
        """Close the session (and its connections) and stop the loop thread; idempotent.
        Requests still in flight are cancelled."""
        with self._lock:
            if self._closed:
                return
            if self._thread is not None and threading.current_thread() is self._thread:
                raise RuntimeError("OutboundClient.close() called from the client's own loop")
            self._closed = True
            loop, thread, executor, session = (
                self._loop,
                self._thread,
                self._executor,
                self._session,
            )
        if loop is None or thread is None:
            return
        if session is not None:
            closing = asyncio.run_coroutine_threadsafe(session.close(), loop)
            try:
                closing.result(timeout=10)
            except Exception:  # noqa: BLE001 - closing is best effort; the loop stops anyway
                closing.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if executor is not None:
            # A getaddrinfo that never returns must not hold close() (nor the process) up.
            executor.shutdown(wait=False, cancel_futures=True)

    # -- bridges between threads and the loop ---------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the client's loop; the returned future can be waited on from any
        thread (an engine keeps many in flight). Cancelling the future cancels the coroutine."""
        try:
            loop = self._start()
        except BaseException:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the client's loop and wait for its result (TimedOut after `timeout`
        seconds, the coroutine then cancelled). Not from the loop's own thread: that would wait
        for itself, so it raises RuntimeError there (await the coroutine instead)."""
        if self._thread is not None and threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "OutboundClient.run() called from the client's own event loop thread; it would "
                "deadlock: await the coroutine instead"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the coroutine's own TimedOut (a TimeoutError too)
            future.cancel()
            raise TimedOut(f"did not complete within {timeout:g} s") from None

    async def _on_own_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the client's loop, whichever loop the caller is on."""
        try:
            loop = self._start()
        except BaseException:
            coro.close()
            raise
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    # -- checking ---------------------------------------------------------------------------------

    async def check(self, url: str, *, require_https: bool = True) -> Checked:
        """Parse `url` strictly, resolve its host once (an IP literal is not looked up), judge
        every address against the policy; the target and its checked addresses, or UnsafeURL
        (DNSFailure when the host does not resolve, ResolveTimedOut when the lookup takes
        longer than the policy's timeout)."""
        return await self._on_own_loop(
            self._check(url, require_https=require_https, resolve_timeout=self.policy.timeout)
        )

    def check_sync(
        self,
        url: str,
        *,
        require_https: bool = True,
        resolve: bool = True,
        resolve_timeout: float | None = None,
    ) -> Target:
        """Registration-time validation (API, admin form, CLI, POST /hub): the parsed target or
        UnsafeURL. With resolve=False only IP literals are judged (and the scheme); a lookup
        slower than `resolve_timeout` (default: the policy's timeout) raises ResolveTimedOut,
        meaning neither allowed nor refused. Allow-listed names are not looked up."""
        target = self._parse(url)
        if target.literal is not None:
            judge(target, [target.literal], self.policy, require_https=require_https)
            return target
        if self.policy.allows_name(target.host):
            return target
        if not resolve:
            judge(target, [], self.policy, require_https=require_https)
            return target
        timeout = self.policy.timeout if resolve_timeout is None else resolve_timeout
        checked = self.run(self._check(url, require_https=require_https, resolve_timeout=timeout))
        return checked.target

    async def _check(
        self, url: str, *, require_https: bool, resolve_timeout: float | None = None
    ) -> Checked:
        target = self._parse(url)
        if target.literal is not None:
            # No DNS: the judgment depends only on the URL and the policy, so it is kept.
            key = (url, require_https)
            checked = self._literal_checks.get(key)
            if checked is None:
                judge(target, [target.literal], self.policy, require_https=require_https)
                checked = Checked(target, (target.literal,))
                if len(self._literal_checks) >= TARGET_CACHE:
                    self._literal_checks.clear()
                self._literal_checks[key] = checked
            return checked
        try:
            addresses = await self._resolve(target, resolve_timeout)
        except DNSFailure:
            # The scheme is the first thing to fix, whether or not the host resolves.
            judge(target, [], self.policy, require_https=require_https)
            raise
        judge(target, addresses, self.policy, require_https=require_https)
        return Checked(target, tuple(addresses))

    def _parse(self, url: str) -> Target:
        """parse_url, remembered per URL string (a bounded cache; refusals are not kept)."""
        target = self._targets.get(url)
        if target is None:
            target = parse_url(url, require_https=False)
            if len(self._targets) >= TARGET_CACHE:
                self._targets.clear()
            self._targets[url] = target
        return target

    def _url(self, target: Target, addr: IPAddress) -> URL:
        """The request URL with the checked address as its host (kept per URL and address)."""
        key = (target.url, addr)
        url = self._urls.get(key)
        if url is None:
            url = _address_url(target, addr)
            if len(self._urls) >= TARGET_CACHE:
                self._urls.clear()
            self._urls[key] = url
        return url

    async def _resolve(self, target: Target, timeout: float | None) -> list[IPAddress]:
        lookup = self.resolver.resolve(target.host, target.port)
        if timeout is None:
            answer = await lookup
        else:
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    answer = await lookup
            except TimeoutError:
                if deadline.expired():
                    raise ResolveTimedOut(
                        f"host {shown(target.host)} did not resolve within {timeout:g} s"
                    ) from None
                raise
        try:
            addresses = unique_addresses(str(a) for a in answer)
        except ValueError as exc:
            raise DNSFailure(
                f"host {shown(target.host)} resolved to a non-address: {exc}"
            ) from None
        if not addresses:
            raise DNSFailure(f"host {shown(target.host)} does not resolve: no address")
        return addresses

    # -- requests ---------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes = b"",
        require_https: bool = True,
        timeout: float | None = None,
        max_read: int | None = None,
        decompress: bool = False,
    ) -> Response:
        """Check `url` (see `check`), then send one request to a checked address and read the
        response, all within `timeout` seconds (default: the policy's). At most `max_read`
        bytes of the body are read (default: the policy's); with `decompress`, gzip/deflate
        bodies are decoded, the cap applying to the decoded bytes. Redirects are returned.

        Raises UnsafeURL (nothing sent), TimedOut, ConnectFailed or BadResponse; ValueError
        for a bad method or header from the caller."""
        return await self._on_own_loop(
            self._request(
                method,
                url,
                headers=headers,
                body=body,
                require_https=require_https,
                timeout=timeout,
                max_read=max_read,
                decompress=decompress,
            )
        )

    def request_sync(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        body: bytes = b"",
        require_https: bool = True,
        timeout: float | None = None,
        max_read: int | None = None,
        decompress: bool = False,
    ) -> Response:
        """`request` from a thread (not the client's loop thread): waits for the response."""
        return self.run(
            self._request(
                method,
                url,
                headers=headers,
                body=body,
                require_https=require_https,
                timeout=timeout,
                max_read=max_read,
                decompress=decompress,
            )
        )

    async def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None,
        body: bytes,
        require_https: bool,
        timeout: float | None,
        max_read: int | None,
        decompress: bool,
    ) -> Response:
        if not _TOKEN.fullmatch(method or ""):
            raise ValueError(f"not an HTTP method: {shown(str(method), 40)}")
        method = method.upper()
        send_headers = self._headers(headers, decompress)
        limit = self.policy.max_read if max_read is None else max_read
        seconds = self.policy.timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                checked = await self._check(url, require_https=require_https)
                return await self._exchange(
                    checked, method, send_headers, bytes(body), limit, decompress, started
                )
        except TimeoutError:
            if deadline.expired():
                raise TimedOut(
                    f"{method} {shown(url)} did not complete within {seconds:g} s"
                ) from None
            raise

    def _headers(self, headers: Headers | None, decompress: bool) -> CIMultiDict[str]:
        out: CIMultiDict[str] = CIMultiDict()
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        for name, value in items:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"not a valid header name: {shown(str(name), 60)}")
            if not isinstance(value, str) or _BREAKS.search(value):
                raise ValueError(f"header {name} has a value with CR, LF or NUL (or not text)")
            if name.lower() not in _CLIENT_HEADERS:
                out.add(name, value)
        out["Accept-Encoding"] = "gzip, deflate" if decompress else "identity"
        return out

    async def _exchange(
        self,
        checked: Checked,
        method: str,
        headers: CIMultiDict[str],
        body: bytes,
        max_read: int,
        decompress: bool,
        started: float,
    ) -> Response:
        session = self._session
        assert session is not None
        target = checked.target
        headers["Host"] = target.host_header
        proxy, proxy_headers = self.proxies.for_target(target)
        https = target.scheme == "https"
        last_refusal: tuple[aiohttp.ClientConnectorError, IPAddress] | None = None
        for addr in checked.addresses:
            url = self._url(target, addr)
            try:
                resp = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    proxy=proxy,
                    proxy_headers=proxy_headers,
                    server_hostname=target.host if https and target.literal is None else None,
                )
            except aiohttp.ClientConnectorError as exc:
                if _is_refusal(exc) and proxy is None:
                    # Nothing was sent: the next checked address may answer.
                    last_refusal = (exc, addr)
                    continue
                raise _mapped(exc, target, addr) from None
            except (aiohttp.ClientError, HttpProcessingError, OSError, ssl.SSLError) as exc:
                raise _mapped(exc, target, addr) from None
            try:
                content, truncated = await read_body(
                    resp.content, resp.headers.get("Content-Encoding", ""), max_read, decompress
                )
            except BaseException as exc:
                resp.close()
                if isinstance(exc, aiohttp.ClientError | HttpProcessingError | OSError):
                    raise _mapped(exc, target, addr) from None
                raise
            if resp.content.at_eof():
                resp.release()  # fully read: the connection goes back to the pool
            else:
                resp.close()  # more was coming: never hand a half-read connection to the pool
            return Response(
                status=resp.status,
                reason=safe_text(resp.reason or "", MAX_REASON),
                raw_headers=resp.raw_headers,
                body=content,
                truncated=truncated,
                address=str(addr),
                elapsed=time.monotonic() - started,
            )
        assert last_refusal is not None
        raise _mapped(last_refusal[0], target, last_refusal[1])


def _address_url(target: Target, addr: IPAddress) -> URL:
    host = f"[{addr}]" if isinstance(addr, ipaddress.IPv6Address) else str(addr)
    return URL(f"{target.scheme}://{host}:{target.port}{target.target}", encoded=True)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _is_refusal(exc: aiohttp.ClientConnectorError) -> bool:
    """A failure to open the TCP connection (refused, unreachable), not a TLS or proxy one."""
    return (
        not isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientProxyConnectionError)
        and exc.os_error.errno in _REFUSALS
    )


_REFUSALS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.EADDRNOTAVAIL,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
    }
)
_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ENETDOWN: "network down",
    errno.EHOSTDOWN: "host down",
}


def _mapped(exc: BaseException, target: Target, addr: IPAddress) -> OutboundError:
    """An aiohttp / OS / parser error as one of ours, saying what happened and where."""
    where = f"{target.host_header} at {addr}" if target.literal is None else target.host_header
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", None) or cert_error
        return ConnectFailed(f"TLS certificate verification failed for {where}: {detail}")
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return ConnectFailed(f"TLS handshake with {where} failed: {_os_detail(exc)}")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return ConnectFailed(f"the proxy refused to connect to {where}: {exc.status} {exc.message}")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return ConnectFailed(f"cannot connect to the proxy: {_os_detail(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectFailed(f"cannot connect to {where}: {_os_detail(exc)}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ConnectFailed(f"{where} closed the connection before a complete response")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return BadResponse(f"bad response body from {where}: {_os_detail(exc)}")
    if isinstance(exc, aiohttp.ClientResponseError | HttpProcessingError):
        return BadResponse(f"malformed HTTP response from {where}: {_parser_detail(exc)}")
    if isinstance(exc, OSError):
        return ConnectFailed(f"connection to {where} failed: {_os_detail(exc)}")
    return ConnectFailed(f"request to {where} failed: {type(exc).__name__}: {exc}")


def _os_detail(exc: BaseException) -> str:
    os_error = getattr(exc, "os_error", None)
    cause = os_error if isinstance(os_error, OSError) else exc
    if isinstance(cause, OSError) and cause.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[cause.errno]
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__


def _parser_detail(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    return str(exc) or type(exc).__name__
