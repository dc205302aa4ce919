"""Feed documents indented for people to read (the admin preview); served ones stay compact."""

from __future__ import annotations

import json

from lxml import etree

__all__ = ["pretty"]

# No entities resolved, no network, no DTD: a feed is data, whatever it declares. CDATA kept as
# CDATA, so a story body reads as the feed carries it.
_PARSER = etree.XMLParser(
    remove_blank_text=True,
    strip_cdata=False,
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
)


def pretty(body: bytes, fmt: str) -> str:
    """``body``, a document in ``fmt`` (rss, atom or json), indented by two spaces.

    Only whitespace between elements (or JSON tokens) changes; text, attributes and CDATA
    sections are left as they are. A document that does not parse comes back as it is (decoded,
    bad bytes replaced): the preview then shows what is wrong with it as served."""
    try:
        if fmt == "json":
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        root = etree.fromstring(body, _PARSER)
    except (ValueError, etree.XMLSyntaxError):
        return body.decode("utf-8", "replace")
    etree.indent(root, space="  ")
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text
