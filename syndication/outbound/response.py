"""What a call returns, and how much of a hostile peer's answer is read.

Header values arrive as bytes that need not be UTF-8 (or may hold control characters); they are
decoded as UTF-8 when valid, else as Latin-1 (lossless), and control, format and line-separator
characters become U+FFFD, so every value is a safe str to log, store or compare. The body is
read up to a cap; with decompression the cap applies to the decompressed bytes, which makes a
gzip bomb cost at most `max_read` bytes of memory."""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from aiohttp import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from .errors import BadResponse

MAX_REASON = 200
_CHUNK = 65536
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass
class Response:
    """A response as read: `body` holds at most the read cap (`truncated` says more was
    available, or more would have come out of decompression); `address` is the IP address the
    request was sent to (the checked one; through a proxy, the address the proxy was asked
    for); `elapsed` counts seconds from the DNS lookup to the last byte read."""

    status: int
    reason: str
    raw_headers: tuple[tuple[bytes, bytes], ...] = field(repr=False)
    body: bytes
    truncated: bool
    address: str
    elapsed: float

    @cached_property
    def headers(self) -> CIMultiDictProxy[str]:
        """The headers as safe text, decoded on first use (a webhook sender reads one or two
        of them, and only for some answers)."""
        return decode_headers(self.raw_headers)


def safe_text(data: bytes | str, limit: int | None = None) -> str:
    """Peer-sent bytes as a safe str: UTF-8 if valid, else Latin-1; control, format and line
    separator characters (tab included) replaced; optionally cut to `limit` characters."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data
    if limit is not None:
        text = text[:limit]
    if text.isascii() and text.isprintable():
        return text
    return "".join("\ufffd" if unicodedata.category(ch) in _UNSAFE else ch for ch in text)


def decode_headers(raw: Iterable[tuple[bytes, bytes]]) -> CIMultiDictProxy[str]:
    """Response headers (repeats kept, in order) as a case-insensitive str → str mapping."""
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in raw:
        headers.add(safe_text(name), safe_text(value))
    return CIMultiDictProxy(headers)


async def read_body(
    content: StreamReader, content_encoding: str, max_read: int, decompress: bool
) -> tuple[bytes, bool]:
    """Read the body (at most `max_read` bytes, decompressed when asked and the encoding is
    gzip or deflate): (body, truncated). Reading stops as soon as the cap is passed; the
    caller closes the connection when the stream is not at its end."""
    encoding = content_encoding.strip().lower()
    if decompress and encoding in ("gzip", "x-gzip", "deflate"):
        return await _read_decompressed(content, encoding, max_read)
    buffer = bytearray()
    while len(buffer) <= max_read:
        chunk = await content.read(min(_CHUNK, max_read + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer), False
        buffer += chunk
    return bytes(buffer[:max_read]), True


async def _read_decompressed(
    content: StreamReader, encoding: str, max_read: int
) -> tuple[bytes, bool]:
    decompressor = None
    out = bytearray()
    try:
        while True:
            chunk = await content.read(_CHUNK)
            if not chunk:
                break
            if decompressor is None:
                decompressor = zlib.decompressobj(_wbits(encoding, chunk))
            data = chunk
            while data:
                # Never more than one byte past the cap, whatever the compression ratio.
                out += decompressor.decompress(data, max_read + 1 - len(out))
                if len(out) > max_read:
                    return bytes(out[:max_read]), True
                data = decompressor.unconsumed_tail
            if decompressor.eof:
                break  # anything after the compressed stream is not read
        if decompressor is not None:
            out += decompressor.flush()
    except zlib.error as exc:
        raise BadResponse(f"the response body is not valid {encoding} data: {exc}") from None
    if len(out) > max_read:
        return bytes(out[:max_read]), True
    return bytes(out), False


def _wbits(encoding: str, first: bytes) -> int:
    if encoding != "deflate":
        return 16 + zlib.MAX_WBITS  # gzip
    # HTTP's "deflate" is the zlib format, but some servers send raw deflate: tell them apart
    # by the zlib header (CM = 8 and a header checksum divisible by 31).
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS
