"""A channel's feed as it would be served, with findings: for the admin before and after saving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

import feeds
from feeds.check import Finding, check
from syndication.channels.pages import ItemCache, build_page
from syndication.channels.service import clean_channel
from syndication.clock import utcnow
from syndication.config import Settings
from syndication.errors import ValidationError
from syndication.models import Channel


@dataclass(frozen=True)
class Preview:
    format: str
    content_type: str
    body: bytes
    findings: list[Finding]


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
    findings = check(body, fmt)
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
    return Preview(fmt, feeds.CONTENT_TYPES[fmt], body, findings)


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
