"""Plain-text helpers shared by every renderer."""

from __future__ import annotations

import re

__all__ = ["strip_xml_forbidden"]

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
