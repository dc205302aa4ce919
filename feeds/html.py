"""HTML hygiene for story bodies: sanitise once at store time, derive plain text for summaries."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import nh3

from feeds.text import strip_xml_forbidden

__all__ = ["html_to_text", "sanitize_html"]

# Attributes that hold a URL among those nh3 allows by default (a/href, img/src, and the
# citation URLs of blockquote, q, ins and del). Feed readers resolve relative URLs against
# the feed, not the story page, so they have to leave here absolute.
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def sanitize_html(html: str, base_url: str) -> str:
    """Clean story HTML for storage and syndication.

    nh3 (ammonia) keeps only its allow-listed tags and attributes, so scripts, styles, iframes,
    event-handler attributes and ``javascript:`` / ``data:`` URLs are gone; relative URLs are
    made absolute against ``base_url``; characters XML forbids are removed.
    """

    def absolutise(tag: str, attr: str, value: str) -> str | None:
        if attr not in _URL_ATTRIBUTES:
            return value
        try:
            return urljoin(base_url, value.strip())
        except ValueError:
            # urljoin rejects some malformed URLs (e.g. "http://[bad"): drop the attribute.
            return None

    # Stripping before cleaning keeps NULs and friends away from the HTML parser; stripping
    # after removes those that character references (&#1;, &#xFFFE;) turned back into text.
    cleaned = nh3.clean(strip_xml_forbidden(html), attribute_filter=absolutise)
    return strip_xml_forbidden(cleaned)


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
