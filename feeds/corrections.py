"""Corrections at the end of an item's content: the same HTML in RSS content:encoded, Atom
content and JSON Feed content_html, so a reader shows them wherever it shows the story."""

from __future__ import annotations

from datetime import UTC
from html import escape

from feeds.model import Correction, Item

# Feeds are not localised (a channel may mix languages): the label is the page's English one.
LABEL = "Correction"


def _note(correction: Correction) -> str:
    when = correction.at.astimezone(UTC)
    text = escape(correction.text, quote=False).replace("\n", "<br>")
    return (
        f'<p><strong>{LABEL}</strong> (<time datetime="{when.isoformat()}">'
        f"{when:%Y-%m-%d %H:%M} UTC</time>): {text}</p>"
    )


def corrections_html(corrections: tuple[Correction, ...] | list[Correction]) -> str:
    """The corrections as HTML, newest first; "" when there are none."""
    if not corrections:
        return ""
    notes = sorted(corrections, key=lambda c: c.at, reverse=True)
    return '<hr><div class="corrections">' + "".join(_note(c) for c in notes) + "</div>"


def item_content(item: Item) -> str | None:
    """The item's content HTML with its corrections at the end; None for a summary-only item
    (its summary is left as it is: plain text, unchanged by corrections)."""
    if item.content_html is None:
        return None
    return item.content_html + corrections_html(list(item.corrections))
