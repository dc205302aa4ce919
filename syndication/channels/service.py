"""Channel storage and validation, and the version bump that invalidates cached feed pages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feeds import FORMATS
from syndication import stamps
from syndication import validation as v
from syndication.config import Settings
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.filters import KINDS, StoryFilter
from syndication.models import Channel

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_LIMIT = 500
CONTENT_MODES = ("full", "summary")
FIELDS = (
    "slug",
    "title",
    "description",
    "language",
    "link",
    "copyright",
    "logo",
    "filter",
    "limit",
    "content",
    "formats",
)


def _slug(value: Any) -> str:
    if not isinstance(value, str) or not SLUG_RE.match(value) or len(value) > 100:
        raise ValueError(
            "must be lowercase letters, digits and single dashes (at most 100), "
            f"e.g. 'world-news'; got {value!r}"
        )
    return value


def clean_filter(value: Any, errors: v.FieldErrors) -> dict[str, list[str]]:
    """A story filter (channels' and subscribers'): known kinds, lists of clean strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.errors["filter"] = f"must be an object with any of {', '.join(KINDS)}"
        return {}
    out: dict[str, list[str]] = {}
    for key, items in value.items():
        if key not in KINDS:
            errors.errors[f"filter.{key}"] = f"unknown filter; use {', '.join(KINDS)}"
            continue
        clean = errors.check(f"filter.{key}", v.string_list, items, max_items=200, max_len=200)
        if key == "languages" and clean:
            clean = [errors.check(f"filter.{key}", v.language, lang) for lang in clean]
        if clean:
            out[key] = [c for c in clean if c]
    return out


def _limit(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"must be between 1 and {MAX_LIMIT}")
    return value


def _content(value: Any) -> str:
    if value in (None, ""):
        return "full"
    if value not in CONTENT_MODES:
        raise ValueError("must be 'full' or 'summary'")
    return str(value)


def _formats(value: Any) -> list[str]:
    if value in (None, []):
        return list(FORMATS)
    if not isinstance(value, list) or any(f not in FORMATS for f in value):
        raise ValueError(f"must be a list drawn from {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in value]


def clean_channel(data: Any, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError({"": "a channel must be a JSON object"})
    errors = v.FieldErrors()
    out: dict[str, Any] = {}
    for key in data:
        if key not in FIELDS:
            errors.errors[str(key)] = "unknown field"
    checks = {
        "slug": lambda x: _slug(x),
        "title": lambda x: v.text(x, max_len=500, required=True),
        "description": lambda x: v.optional_text(x, max_len=5000),
        "language": v.language,
        "link": v.http_url,
        "copyright": lambda x: v.optional_text(x, max_len=500),
        "logo": v.http_url,
        "limit": _limit,
        "content": _content,
        "formats": _formats,
    }
    for key, check in checks.items():
        if key in data or (not partial and key in ("slug", "title")):
            out[key] = errors.check(key, check, data.get(key))
    if "filter" in data:
        out["filter"] = clean_filter(data["filter"], errors)
    if errors.errors:
        raise ValidationError(errors.errors)
    return out


def declared_language(channel: Channel, settings: Settings) -> str:
    """The filter's language when it names exactly one, else the channel's, else the default."""
    languages = (channel.filter or {}).get("languages") or []
    if len(languages) == 1:
        return languages[0]
    return channel.language or settings.default_language


def get_channel(session: Session, slug: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.slug == slug))
    if channel is None:
        raise NotFound(f"no channel {slug!r}")
    return channel


def list_channels(session: Session) -> list[Channel]:
    return list(session.scalars(select(Channel).order_by(Channel.slug)))


def create_channel(session: Session, data: Any, *, now: datetime) -> Channel:
    fields = clean_channel(data)
    if session.scalar(select(Channel.id).where(Channel.slug == fields["slug"])) is not None:
        raise Conflict(f"channel {fields['slug']!r} already exists", {"slug": "already exists"})
    fields.setdefault("formats", list(FORMATS))
    fields.setdefault("content", "full")
    fields.setdefault("filter", {})
    channel = Channel(**fields, version=1, changed_at=now, created_at=now)
    session.add(channel)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"channel {fields['slug']!r} already exists", {"slug": "already exists"}
        ) from exc
    return channel


def update_channel(session: Session, slug: str, data: Any, *, now: datetime) -> Channel:
    fields = clean_channel(data, partial=True)
    if fields.get("slug") not in (None, slug):
        raise ValidationError({"slug": "cannot be changed"})
    channel = get_channel(session, slug)
    changed = False
    for key, value in fields.items():
        if getattr(channel, key) != value:
            setattr(channel, key, value)
            changed = True
    if changed:
        channel.version += 1
        channel.changed_at = now
    return channel


# The stamp of the last channel deletion: a deleted channel leaves no changed_at behind, and
# the OPML's Last-Modified (the newest change of its channels) must still move past it.
DELETED_STAMP = "channels_deleted"


def delete_channel(session: Session, slug: str, *, now: datetime) -> None:
    session.delete(get_channel(session, slug))
    stamps.bump(session, DELETED_STAMP, now)


def list_changed_at(session: Session, channels: Iterable[Channel]) -> datetime | None:
    """When the channel list last changed: its newest channel change, or the last deletion."""
    times = [c.changed_at for c in channels]
    deleted = stamps.current(session, DELETED_STAMP)
    if deleted:
        times.append(stamps.as_time(deleted))
    return max(times, default=None)


def touch(
    session: Session,
    before: Iterable[tuple[str, str]] | None,
    after: Iterable[tuple[str, str]] | None,
    now: datetime,
) -> list[int]:
    """Bump the channels whose filter matches a story as it was or as it is now.

    None means "not visible then"; an empty set is a visible story without any terms, which
    a channel with an empty filter still shows.
    """
    states = [set(terms) for terms in (before, after) if terms is not None]
    ids = [
        channel_id
        for channel_id, raw_filter in session.execute(select(Channel.id, Channel.filter))
        if any(StoryFilter.from_dict(raw_filter).matches(terms) for terms in states)
    ]
    if ids:
        session.execute(
            update(Channel)
            .where(Channel.id.in_(ids))
            .values(version=Channel.version + 1, changed_at=now)
        )
    return ids


def channel_to_dict(channel: Channel, settings: Settings) -> dict[str, Any]:
    base = settings.base_url
    return {
        "slug": channel.slug,
        "title": channel.title,
        "description": channel.description or channel.title,
        "language": declared_language(channel, settings),
        "link": channel.link or f"{base}/channels/{channel.slug}",
        "copyright": channel.copyright,
        "logo": channel.logo,
        "filter": StoryFilter.from_dict(channel.filter).to_dict(),
        "limit": channel.limit or settings.feed_limit,
        "content": channel.content,
        "formats": list(channel.formats),
        "feeds": {fmt: f"{base}/feeds/{channel.slug}.{fmt}" for fmt in channel.formats},
        "updated_at": v.iso(channel.changed_at),
    }
