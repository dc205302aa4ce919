"""A channel's feed as it would be served, with findings: for the admin before and after saving.

Besides the document itself: its items as a reader would see them, the document indented for
reading, and every finding, each item's beside it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

import feeds
from feeds.check import Finding, check, check_items
from feeds.html import HtmlTooDeep, sanitize_html
from feeds.pretty import pretty
from syndication.channels.pages import ItemCache, build_page
from syndication.channels.service import clean_channel
from syndication.clock import utcnow
from syndication.config import Settings
from syndication.errors import ValidationError
from syndication.models import Channel


@dataclass(frozen=True)
class PreviewItem:
    """One item as a feed reader shows it."""

    position: int  # 1-based, as findings count
    title: str
    url: str | None  # None when it is not an http(s) URL (it would not be a link then)
    published: datetime
    summary: str | None
    content_html: str | None  # sanitised again here: this HTML is shown inside the admin
    image: feeds.Image | None
    image_url: str | None  # as image.url, when http(s)
    authors: list[str]
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    format: str
    content_type: str
    body: bytes
    findings: list[Finding]
    items: list[PreviewItem] = field(default_factory=list)
    pretty: str = ""  # the body indented for reading


def _http(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _reader_items(
    items: list[feeds.Item], findings: list[Finding], max_depth: int
) -> list[PreviewItem]:
    out = []
    for n, item in enumerate(items, start=1):
        content = None
        if item.content_html is not None:
            # The stored body is clean already; cleaning it again costs little and keeps the
            # admin safe from a body that reached the database by another way.
            try:
                content = sanitize_html(item.content_html, item.url, max_depth=max_depth)
            except HtmlTooDeep:
                content = None
        out.append(
            PreviewItem(
                position=n,
                title=item.title,
                url=_http(item.url),
                published=item.published,
                summary=item.summary,
                content_html=content,
                image=item.image,
                image_url=_http(item.image.url) if item.image else None,
                authors=[a.name for a in item.authors],
                # Beside the item, without the "item n (id): " that places them in the list.
                findings=[
                    replace(f, message=f.message.removeprefix(f"item {n} ({item.id}): "))
                    for f in findings
                    if f.item == n
                ],
            )
        )
    return out


def preview(
    session: Session,
    settings: Settings,
    channel: Channel,
    fmt: str,
    cache: ItemCache | None = None,
) -> Preview:
    """Render the first page of `channel` (stored, or a draft from draft_channel) in `fmt`."""
    if fmt not in feeds.FORMATS:
        raise ValidationError({"format": f"must be one of {', '.join(feeds.FORMATS)}"})
    doc, page = build_page(session, settings, channel, fmt, None, cache)
    body = feeds.render(doc, fmt)
    # Equal findings (the document's and the items' checks can both see a missing text) once.
    findings = list(dict.fromkeys(check(body, fmt) + check_items(page.items)))
    # The document's findings first, then the items' in page order (stable: each item's own
    # findings keep the order they were found in).
    findings.sort(key=lambda f: 0 if f.item is None else f.item)
    if page.cut_by_bytes:
        shown = len(page.items)
        findings.insert(
            0,
            Finding(
                "info",
                f"this page holds {shown} item{'s' if shown != 1 else ''} (limit {page.limit}): "
                f"the next would pass feed_max_bytes ({page.max_bytes} bytes); the rest "
                "follow on the next page",
            ),
        )
    if fmt not in (channel.formats or feeds.FORMATS):
        findings.insert(0, Finding("info", f"{fmt} is not enabled for this channel"))
    return Preview(
        fmt,
        feeds.CONTENT_TYPES[fmt],
        body,
        findings,
        _reader_items(page.items, findings, settings.html_max_depth),
        pretty(body, fmt),
    )


def draft_channel(data: Any, base: Channel | None = None) -> Channel:
    """An unsaved channel from form or API data (validated), over `base` when editing one."""
    fields = clean_channel(data, partial=base is not None)
    draft = Channel(
        id=base.id if base else 0,
        slug=base.slug if base else fields.get("slug", "preview"),
        title=base.title if base else fields.get("title", ""),
        description=base.description if base else None,
        language=base.language if base else None,
        link=base.link if base else None,
        copyright=base.copyright if base else None,
        logo=base.logo if base else None,
        filter=dict(base.filter or {}) if base else {},
        limit=base.limit if base else None,
        content=base.content if base else "full",
        formats=list(base.formats) if base else list(feeds.FORMATS),
        version=0,
        changed_at=base.changed_at if base else utcnow(),
    )
    for key, value in fields.items():
        setattr(draft, key, value)
    return draft
