"""QR code images of short links: parameters in, PNG or SVG bytes out. No Flask, no database.

`qrcode` computes the module matrix; the images are drawn from it here, so that the output has
exactly the size asked for (qrcode's `box_size` is pixels per *module* and its images grow with
the code's version). A PNG is `size` x `size` pixels: the largest whole number of pixels per
module that fits the code plus its quiet zone, centred on a background canvas, so the quiet zone
is at least `margin` modules. An SVG has width = height = `size` and a viewBox in modules (the
code plus exactly `margin` modules), so it scales crisply to any size.

Parameters (all optional; anything else, a repeated or an empty one is refused):
  size    pixels, 64-2048, default 256 (a print-friendly 2-3 cm at 200-300 dpi, sharp on screens)
  margin  quiet zone in modules, 0-16, default 4 (what ISO/IEC 18004 asks for)
  ecc     error correction level L, M, Q or H (any case), default M
  fg, bg  hex colours rrggbb or #rrggbb, default 000000 on ffffff; fg must be darker than bg with
          a WCAG 2 contrast ratio of at least 3:1, since decoders look for dark modules on light.
A bad parameter raises QrParamError (a ValueError) naming it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

import qrcode
from PIL import Image

SIZE_MIN, SIZE_MAX, SIZE_DEFAULT = 64, 2048, 256
FG_DEFAULT, BG_DEFAULT = "000000", "ffffff"
MARGIN_MIN, MARGIN_MAX, MARGIN_DEFAULT = 0, 16, 4
MIN_CONTRAST = 3.0
# By name: qrcode's constants are not in L, M, Q, H order (M = 0, L = 1, H = 2, Q = 3).
ECC_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
PARAMS = ("size", "margin", "ecc", "fg", "bg")
_INT = re.compile(r"[0-9]{1,6}")
_COLOUR = re.compile(r"#?([0-9a-fA-F]{6})")


class QrParamError(ValueError):
    """A bad QR parameter: `param` names it, str() says what is wrong ("size: must be …")."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param


@dataclass(frozen=True, slots=True)
class QrParams:
    """Normalised parameters: equal values give equal (hashable) params, whatever the spelling."""

    size: int = SIZE_DEFAULT
    margin: int = MARGIN_DEFAULT
    ecc: str = "M"
    fg: str = FG_DEFAULT  # six lower-case hex digits, no '#'
    bg: str = BG_DEFAULT


def _int_param(name: str, raw: str, lo: int, hi: int) -> int:
    value = raw.strip()
    if not _INT.fullmatch(value):
        # The pattern also refuses signs, so "-1" lands here: say the range, which covers it.
        if value.startswith("-") and value[1:].isdigit():
            raise QrParamError(name, f"must be between {lo} and {hi}, got {raw!r}")
        raise QrParamError(name, f"must be a whole number between {lo} and {hi}, got {raw!r}")
    number = int(value)
    if not lo <= number <= hi:
        raise QrParamError(name, f"must be between {lo} and {hi}, got {number}")
    return number


def _colour_param(name: str, raw: str) -> str:
    match = _COLOUR.fullmatch(raw.strip())
    if not match:
        raise QrParamError(name, f"must be a hex colour rrggbb or #rrggbb, got {raw!r}")
    return match[1].lower()


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of an rrggbb colour (0 = black, 1 = white)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two rrggbb colours, 1.0 to 21.0, whichever is darker."""
    a, b = relative_luminance(fg), relative_luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def parse_params(args: Mapping[str, str]) -> QrParams:
    """QrParams from query arguments; QrParamError naming the first bad (or unknown) one."""
    for name in args:
        if name not in PARAMS:
            raise QrParamError(name, f"unknown parameter; known: {', '.join(PARAMS)}")
    size, margin, ecc = SIZE_DEFAULT, MARGIN_DEFAULT, "M"
    fg, bg = FG_DEFAULT, BG_DEFAULT
    if "size" in args:
        size = _int_param("size", args["size"], SIZE_MIN, SIZE_MAX)
    if "margin" in args:
        margin = _int_param("margin", args["margin"], MARGIN_MIN, MARGIN_MAX)
    if "ecc" in args:
        ecc = args["ecc"].strip().upper()
        if ecc not in ECC_LEVELS:
            raise QrParamError("ecc", f"must be L, M, Q or H, got {args['ecc']!r}")
    if "fg" in args:
        fg = _colour_param("fg", args["fg"])
    if "bg" in args:
        bg = _colour_param("bg", args["bg"])
    if relative_luminance(fg) >= relative_luminance(bg):
        raise QrParamError("fg", f"must be darker than bg (fg {fg} is not darker than bg {bg})")
    ratio = contrast_ratio(fg, bg)
    if ratio < MIN_CONTRAST:
        raise QrParamError(
            "fg",
            f"contrast with bg is {ratio:.2f}:1 (fg {fg} on bg {bg}); "
            f"at least {MIN_CONTRAST:g}:1 is needed",
        )
    return QrParams(size, margin, ecc, fg, bg)


# Query strings longer than this are parsed afresh each time instead of memoised: the memo is
# keyed by what the client sends, so its bytes are bounded by bounding its keys. Every valid
# parameter set fits in far less (five short parameters).
_MEMO_KEY_MAX = 256


def parse_query(query: str) -> QrParams:
    """QrParams from a raw query string; see _parse_query."""
    if len(query) > _MEMO_KEY_MAX:
        return _parse_query.__wrapped__(query)
    return _parse_query(query)


@lru_cache(maxsize=1024)
def _parse_query(query: str) -> QrParams:
    """QrParams from a raw query string (what both the route and the WSGI fast path use).

    A parameter given twice or with an empty value is refused, like any bad value. Memoised:
    the fast path parses the query of every hit, and parsing is pure. (lru_cache does not keep
    exceptions, so bad queries are parsed anew each time; they cost nothing else.)
    """
    seen: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in seen:
            raise QrParamError(name, "given more than once")
        if not value.strip():
            raise QrParamError(name, "is empty")
        seen[name] = value
    return parse_params(seen)


@lru_cache(maxsize=256)
def matrix(data: str, ecc: str) -> tuple[bytes, ...]:
    """The code's modules, a bytes row each (1 = dark, 0 = light), without a quiet zone.

    Memoised: the story page asks for the same code as SVG and PNG, in several sizes or colours,
    and encoding (mask selection above all) is most of a render's time.
    """
    code = qrcode.QRCode(error_correction=ECC_LEVELS[ecc], border=0, box_size=1)
    code.add_data(data)
    code.make(fit=True)
    return tuple(bytes(1 if cell else 0 for cell in row) for row in code.get_matrix())


def _layout(modules: int, p: QrParams) -> int:
    """Pixels per module for a PNG: the largest that fits the code and its quiet zone in size."""
    box = p.size // (modules + 2 * p.margin)
    if box < 1:
        raise QrParamError(
            "size",
            f"too small for this code: {modules} modules plus a margin of {p.margin} on each "
            f"side need at least {modules + 2 * p.margin} pixels",
        )
    return box


def _rgb(colour: str) -> list[int]:
    return [int(colour[i : i + 2], 16) for i in (0, 2, 4)]


def render_png(data: str, p: QrParams) -> bytes:
    """A 1-bit palette PNG of exactly p.size x p.size pixels."""
    rows = matrix(data, p.ecc)
    n = len(rows)
    box = _layout(n, p)
    palette = _rgb(p.bg) + _rgb(p.fg)  # index 0 = background, 1 = dark module
    code = Image.frombytes("P", (n, n), b"".join(rows))
    code = code.resize((n * box, n * box), Image.Resampling.NEAREST)
    canvas = Image.new("P", (p.size, p.size), 0)
    canvas.putpalette(palette)
    offset = (p.size - n * box) // 2  # >= margin * box, since box * (n + 2 * margin) <= size
    canvas.paste(code, (offset, offset))
    out = io.BytesIO()
    canvas.save(out, "PNG", compress_level=9)
    return out.getvalue()


def render_svg(data: str, p: QrParams) -> bytes:
    """An SVG of width = height = p.size, drawn in module units: one path of horizontal runs."""
    rows = matrix(data, p.ecc)
    n = len(rows)
    if n + 2 * p.margin > p.size:  # under a pixel per module: refused, as for PNG
        _layout(n, p)
    m = p.margin
    total = n + 2 * m
    parts: list[str] = []
    for y, row in enumerate(rows):
        x = row.find(1)
        while x != -1:
            end = row.find(0, x)
            if end == -1:
                end = n
            parts.append(f"M{x + m} {y + m}h{end - x}v1h-{end - x}z")
            x = row.find(1, end)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{p.size}" '
        f'height="{p.size}" viewBox="0 0 {total} {total}" shape-rendering="crispEdges">'
        f'<rect width="{total}" height="{total}" fill="#{p.bg}"/>'
        f'<path fill="#{p.fg}" d="{"".join(parts)}"/></svg>\n'
    ).encode()
