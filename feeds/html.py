"""HTML hygiene for story bodies: sanitise once at store time, derive plain text for summaries."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urljoin, urlsplit

import nh3

from feeds.html_depth import nesting_depth
from feeds.text import strip_unprintable, strip_xml_forbidden
from feeds.uri import to_uri

__all__ = ["CleanHtml", "HtmlTooDeep", "clean_html", "html_to_text", "sanitize_html"]

URL_SCHEMES = ("http", "https", "mailto")
# Every attribute that holds one URL, whether or not the allow-list lets it through today (nh3's
# default lets through a/href, img/src and the cite of blockquote, q, ins and del): a wider
# allow-list must not bring javascript: back in.
_URL_ATTRIBUTES = frozenset(
    "href src cite longdesc poster action formaction background data codebase lowsrc dynsrc "
    "manifest profile icon xlink:href".split()
)
# Attributes that hold several: srcset (candidates "url descriptor, …"), ping and archive.
_URL_LIST_ATTRIBUTES = frozenset({"srcset", "ping", "archive"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_DESCRIPTOR = re.compile(r"(?:\s*[0-9.eE+-]+[wxh])*\s*")


class HtmlTooDeep(ValueError):
    """The fragment nests deeper than allowed; nothing parsed it."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"is nested more than {limit} elements deep")
        self.depth = depth
        self.limit = limit


@dataclass(frozen=True)
class CleanHtml:
    """Sanitised HTML whose http(s) and relative URLs still wait for the base URL they are
    made absolute against (``resolve``). The costly part (parsing, cleaning) is done; resolving
    is one linear substitution, so it can happen where the base is known (inside a database
    transaction, say) without holding anything for long."""

    html: str
    _marker: str = ""
    _urls: tuple[Callable[[str], str | None], ...] = field(default=(), repr=False)

    def resolve(self, base_url: str) -> str:
        if not self._urls:
            return self.html

        def substitute(match: re.Match[str]) -> str:
            value = self._urls[int(match.group(2))](base_url)
            if value is None:
                return ""  # the attribute goes
            return f' {match.group(1)}="{_attribute_escape(value)}"'

        # The marker is random per call, so no text of the story can imitate it.
        pattern = rf' ([^\s=]+)="{self._marker}(\d+)"'
        return re.sub(pattern, substitute, self.html)


def clean_html(html: str, *, max_depth: int | None = None) -> CleanHtml:
    """Clean story HTML: nh3 (ammonia) keeps only its allow-listed tags and attributes, so
    scripts, styles, iframes, forms, event-handler attributes are gone; every URL attribute
    keeps only http(s) and mailto URLs (relative ones too, resolved later); characters XML
    forbids, and those HTML calls invalid (C1 controls, DEL, non-characters), are removed
    (feeds.text.strip_unprintable).

    With ``max_depth``, a fragment nested deeper is refused with HtmlTooDeep before nh3 sees
    it (nh3's cost grows with the square of the depth).
    """
    if not html:
        return CleanHtml("")
    if max_depth is not None:
        depth = nesting_depth(html, max_depth)
        if depth > max_depth:
            raise HtmlTooDeep(depth, max_depth)
    marker = f"u{secrets.token_hex(8)}x"
    pending: list[Callable[[str], str | None]] = []

    def defer(resolve: Callable[[str], str | None]) -> str:
        pending.append(resolve)
        return f"{marker}{len(pending) - 1}"

    def filter_attribute(tag: str, attr: str, value: str) -> str | None:
        if attr in _URL_ATTRIBUTES:
            url = _checked_url(value)
            if url is None:
                return None
            if url.startswith("mailto:"):
                return to_uri(url)
            return defer(lambda base: _absolute(base, url))
        if attr in _URL_LIST_ATTRIBUTES:
            candidates = _srcset(value) if attr == "srcset" else _url_list(value)
            if not candidates:
                return None
            return defer(lambda base: _resolve_list(base, candidates, attr == "srcset"))
        return value

    # Stripping before cleaning keeps NULs and friends away from the HTML parser; stripping
    # after removes those that character references (&#1;, &#xFFFE;) turned back into text.
    # Not only what XML forbids: C1 controls, DEL and non-characters are HTML's "invalid code
    # points" (the W3C validator's BadCharacters and NotHtml on the body), NEL a line break.
    cleaned = nh3.clean(strip_unprintable(html), attribute_filter=filter_attribute)
    return CleanHtml(strip_unprintable(cleaned), marker, tuple(pending))


def sanitize_html(html: str, base_url: str, *, max_depth: int | None = None) -> str:
    """``clean_html`` with its URLs made absolute against ``base_url``: feed readers resolve
    relative URLs against the feed, not the story page, so they have to leave here absolute."""
    return clean_html(html, max_depth=max_depth).resolve(base_url)


def _checked_url(value: str) -> str | None:
    """The URL as a browser reads it, if it is relative, http(s) or mailto; else None.

    Browsers drop leading and trailing controls and spaces and every tab and newline, so
    " java\tscript:" is javascript: to them, and must be to us.
    """
    url = value.translate(_TAB_OR_NEWLINE).strip(_C0_AND_SPACE)
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group(1).lower() not in URL_SCHEMES:
        return None
    try:
        urlsplit(url)  # urljoin would reject it later ("http://[bad")
    except ValueError:
        return None
    return url


def _absolute(base: str, url: str) -> str | None:
    """``url`` made absolute against ``base``, as a URI (the README's promise: every URL a feed
    prints is one, body HTML included; the IRI a newsroom pasted is percent-encoded, its host
    in IDNA A-labels), or None if it is not http(s) or mailto once resolved."""
    absolute = urljoin(base, url)
    scheme = _SCHEME.match(absolute)
    if scheme is None or scheme.group(1).lower() not in URL_SCHEMES:
        return None
    return to_uri(absolute)


def _srcset(value: str) -> list[tuple[str, str]]:
    """The candidates of a srcset ("a.png 1x, b.png 2x") whose URL passes, with descriptors."""
    out = []
    for url, descriptors in _split_srcset(value):
        checked = _checked_url(url)
        if checked is not None and not checked.startswith("mailto:"):
            if _DESCRIPTOR.fullmatch(descriptors):
                out.append((checked, descriptors.strip()))
    return out


def _split_srcset(value: str) -> list[tuple[str, str]]:
    """HTML's srcset parsing: a URL runs to whitespace (a trailing comma ends the candidate);
    then descriptors run to the next comma outside parentheses."""
    out: list[tuple[str, str]] = []
    pos, end = 0, len(value)
    spaces = " \t\n\r\f"
    while pos < end:
        while pos < end and (value[pos] in spaces or value[pos] == ","):
            pos += 1
        start = pos
        while pos < end and value[pos] not in spaces:
            pos += 1
        url = value[start:pos]
        if not url:
            break
        if url.endswith(","):
            out.append((url.rstrip(","), ""))
            continue
        depth, start = 0, pos
        while pos < end and (value[pos] != "," or depth):
            depth += {"(": 1, ")": -1 if depth else 0}.get(value[pos], 0)
            pos += 1
        out.append((url, value[start:pos]))
    return out


def _url_list(value: str) -> list[tuple[str, str]]:
    return [
        (checked, "")
        for part in value.replace(",", " ").split()
        if (checked := _checked_url(part)) is not None
    ]


def _resolve_list(base: str, candidates: list[tuple[str, str]], srcset: bool) -> str | None:
    parts = []
    for url, descriptors in candidates:
        absolute = _absolute(base, url)
        if absolute is not None:
            parts.append(f"{absolute} {descriptors}".strip())
    return (", " if srcset else " ").join(parts) or None


def _attribute_escape(value: str) -> str:
    # As html5ever serialises attribute values, so a stored body does not change with the
    # step it was made absolute in.
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


# Elements that end a line of text when rendered; everything else flows inline.
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br caption dd details div dl dt figcaption figure "
    "footer h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th "
    "tr ul".split()
)
# After nh3 has kept only attribute-less block tags, a tag is "<", a name, ">" (a literal
# "<" in text comes out as "&lt;").
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[^\S\n]+")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed.

    Block elements become line breaks; script and style bodies are not text.
    """
    # html5ever (through nh3) copes with any nesting depth and any malformed input, where
    # libxml2 silently drops text past 255 levels.
    kept = nh3.clean(html, tags=_BLOCK_TAGS, attributes={}, link_rel=None)
    # Character references may decode to characters XML forbids (&#1;), so strip after.
    text = strip_xml_forbidden(unescape(_TAG.sub("\n", kept)))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
