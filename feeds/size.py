"""How many bytes an item adds to a rendered feed: an estimate made before rendering, so a caller
can fill a page up to a byte budget without rendering anything twice.

The estimate is meant to err high, never far low: text is counted in UTF-8 with the escaping
each format applies (the story body exactly, as it is the bulk; the short fields as if every
special character were escaped twice, which RSS does to summaries), plus a fixed allowance for
the element names, dates and attributes around them.
"""

from __future__ import annotations

from feeds.corrections import item_content
from feeds.model import Item
from feeds.uri import to_uri

# Element names, attributes, dates, the language, a media group: what an item prints besides its
# text, in the most verbose format (RSS with Media RSS), rounded up.
ITEM_MARKUP = 1536
PER_NAME = 96  # the markup around one author or category


def _short(text: str | None) -> int:
    """Bytes of a short field, escaped the worst way any format does (twice: & -> &amp;amp;)."""
    if not text:
        return 0
    special = text.count("&") + text.count("<") + text.count(">") + text.count('"')
    return len(text.encode("utf-8", "surrogatepass")) + 8 * special


def _body(html: str | None, fmt: str) -> int:
    """Bytes of the story body: CDATA in RSS and Atom, a JSON string in JSON Feed."""
    if not html:
        return 0
    size = len(html.encode("utf-8", "surrogatepass"))
    if fmt == "json":
        # json.dumps(ensure_ascii=False) escapes quotes, backslashes and control characters;
        # the only control characters XML (and so a stored body) allows are these three.
        for char in ('"', "\\", "\n", "\r", "\t"):
            size += html.count(char)
        return size
    return size + 12 * html.count("]]>")  # each one splits the CDATA section


def item_size(item: Item, fmt: str) -> int:
    """Bytes `item` adds to a document in `fmt` (rss, atom or json), estimated generously."""
    size = ITEM_MARKUP + _body(item_content(item), fmt)
    # guid and link, id and url, alternates; URLs as printed (percent-encoded, up to 3x longer).
    size += 2 * (_short(to_uri(item.id)) + _short(to_uri(item.url)))
    size += _short(item.title)
    size += 2 * _short(item.summary)  # also the Atom summary / JSON content_text of short items
    for person in item.authors:
        size += PER_NAME + _short(person.name) + _short(person.email) + _short(person.uri)
    for term in item.categories:
        size += PER_NAME + 2 * _short(term)  # RSS and Atom print term and label
    if item.image is not None:
        size += PER_NAME + 3 * _short(to_uri(item.image.url)) + _short(item.image.caption)
    return size
