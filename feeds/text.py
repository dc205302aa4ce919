"""Plain-text helpers shared by every renderer and by the service's input cleaning."""

from __future__ import annotations

import re
from html import unescape

__all__ = [
    "plain_text",
    "split_mailbox",
    "strip_unprintable",
    "strip_xml_forbidden",
    "undo_double_utf8",
]

# XML 1.0 (section 2.2) Char production: anything outside it makes a document ill-formed and
# lxml refuses to serialise it. In a Python str every surrogate code point is a lone one
# (astral characters are single code points), so the whole surrogate block goes.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_xml_forbidden(s: str) -> str:
    """Return ``s`` without the characters XML 1.0 forbids.

    Removed: C0 controls except tab, LF and CR; U+FFFE; U+FFFF; lone surrogates. One C-level
    scan; clean text comes back as the same object.
    """
    if _XML_FORBIDDEN.search(s) is None:
        return s
    return _XML_FORBIDDEN.sub("", s)


# What XML allows but no reader can show: the C1 controls (in practice Windows-1252 bytes read
# as Latin-1; readers show U+009F as "Ÿ", the W3C validator says BadCharacters), a stray byte
# order mark (U+FEFF inside text is a leftover of concatenated files) and U+FFFD (a decoding
# error upstream; the validator flags it too). NEL (U+0085) is a line break, so it becomes one.
# Also DEL and the non-characters (U+FDD0-U+FDEF, the last two code points of every plane):
# HTML parsers call them invalid code points, and the validator, which reads RSS descriptions
# and every content:encoded / Atom html content with html5lib, says NotHtml ("Invalid HTML").
_PLANE_ENDS = "".join(chr(p + 0xFFFE) + chr(p + 0xFFFF) for p in range(0x10000, 0x110000, 0x10000))
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffd"
    f"\ufffe\uffff{_PLANE_ENDS}]"
)


def strip_unprintable(s: str) -> str:
    """``s`` without what XML forbids, without DEL, C1 controls, non-characters, U+FEFF and
    U+FFFD; NEL -> LF. For plain text and for HTML alike (HTML calls them invalid too)."""
    s = s.replace("\x85", "\n")
    if _UNPRINTABLE.search(s) is None:
        return s
    return _UNPRINTABLE.sub("", s)


# HTML a plain-text field may arrive with: comments, script/style with what they hold, and
# tags of HTML elements. Only HTML's own element names count (as for the W3C validator, whose
# ContainsHTML looks for those): "<Tests>", "<3", "a < b" and "<ob@example.com>" are text.
# Block-level tags end a line, other tags vanish ("Q<sub>3</sub>" is "Q3").
_HTML_ELEMENTS = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo big "
    "blink blockquote body br button canvas caption center cite code col colgroup data "
    "datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption figure "
    "font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe "
    "img input ins kbd label legend li link main map mark marquee menu meta meter nav "
    "nobr noframes noscript object ol optgroup option output p param picture pre progress q "
    "rp rt ruby s samp script search section select small source span strike strong style "
    "sub summary sup svg math table tbody td template textarea tfoot th thead time title tr "
    "track tt u ul var video wbr"
).split()
_BLOCKS = (
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead tr ul"
).split()


def _tags(names: list[str]) -> str:
    return r"</?(?:" + "|".join(sorted(names, key=len, reverse=True)) + r")(?=[\s/>])[^<>]*>"


_DROPPED = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style)(?=[\s/>])[^>]*>.*?(?:</\1\s*>|\Z)", re.I | re.S
)
_BLOCK_TAG = re.compile(_tags(_BLOCKS), re.I)
_TAG = re.compile(_tags(_HTML_ELEMENTS) + r"|<![A-Za-z][^<>]*>|<\?[^<>]*\?>", re.I)
# Enough for text escaped twice or three times (feeds often escape what is already escaped);
# past that the text is left as the last round made it.
_MAX_ROUNDS = 4


# UTF-8 read back as Latin-1 (a CMS export or feed that got its charset wrong): "CafÃ©" for
# "Café", "â\x80\x99" for "’". The W3C validator calls such text BadCharacters (its test: a
# U+0080-U+00BF after "Â" or "Ã" in text that decodes as UTF-8 once encoded as Latin-1). A lead
# byte's character (Â-ô) and the continuation bytes' (U+0080-U+00BF) it needs, when they decode
# as one UTF-8 character, are that character; anything else is left alone (text in Latin-1
# script almost never holds such a pair: "Ã©" is not French, "é" is).
_DOUBLE_UTF8 = re.compile(
    "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _undouble(match: re.Match[str]) -> str:
    try:
        return match.group().encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


def undo_double_utf8(s: str) -> str:
    """``s`` with UTF-8 that was decoded as Latin-1 ("CafÃ©") decoded again ("Café")."""
    if _DOUBLE_UTF8.search(s) is None:
        return s
    return _DOUBLE_UTF8.sub(_undouble, s)


def plain_text(s: str) -> str:
    """``s`` read as HTML and given back as the text a reader would see: tags removed (block
    tags as line breaks), character references decoded, UTF-8 read as Latin-1 decoded again,
    unprintable characters removed.

    Repeated until nothing changes, so text escaped more than once ("&amp;lt;b&amp;gt;")
    comes out free of markup too and cleaning clean text changes nothing. Whitespace is left
    to the caller.
    """
    for _ in range(_MAX_ROUNDS):
        before = s
        if "<" in s:
            s = _DROPPED.sub("", s)
            s = _BLOCK_TAG.sub("\n", s)
            s = _TAG.sub("", s)
        if "&" in s:
            s = unescape(s)
        s = strip_unprintable(undo_double_utf8(s))
        if s == before:
            break
    return s


# "Name <address>": the form mail headers and RSS's <author> use (RFC 5322 name-addr).
_MAILBOX = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>@\s]+@[^<>@\s]+)>\s*$", re.S)
# "address (Name)": the form the RSS 2.0 specification gives for <author>, which feeds being
# imported bring in; and "Name (address)", its mirror.
_ADDRESS_NAME = re.compile(r"^(?P<email>[^<>@\s()]+@[^<>@\s()]+)\s*\((?P<name>[^()]*)\)\s*$")
_NAME_ADDRESS = re.compile(r"^(?P<name>[^()]*?)\s*\((?P<email>[^<>@\s()]+@[^<>@\s()]+)\)\s*$")
_ADDRESS = re.compile(r"[^<>@\s()]+@[^<>@\s()]+")


def split_mailbox(name: str) -> tuple[str, str | None]:
    """``("O'Brien & Sons", "ob@example.com")`` for ``"O'Brien & Sons <ob@example.com>"``,
    ``"ob@example.com (O'Brien & Sons)"`` and ``"O'Brien & Sons (ob@example.com)"``;
    ``(address, address)`` for a bare address (or one in angle brackets), which holds no name;
    ``(name, None)`` when there is no address."""
    if "@" not in name:
        return name, None
    for pattern in (_MAILBOX, _ADDRESS_NAME, _NAME_ADDRESS):
        match = pattern.match(name)
        if match is not None:
            return match["name"].strip() or match["email"], match["email"]
    if _ADDRESS.fullmatch(name.strip()):
        return name.strip(), name.strip()
    return name, None
