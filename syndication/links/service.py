"""Short links: a story's News Link (made when it is first published) and admins' own links.

Knows nothing of HTTP. The redirect itself lives in links/redirect.py, which reads the link with
one query and records the visit in memory (links/visits.py), never waiting for a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndication import validation as v
from syndication.config import Settings
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.links.codes import check_slug, generate_code
from syndication.models import Link, Story, Visit
from syndication.stories.schema import page_url

FIELDS = ("url", "slug", "title", "tags", "valid_until", "max_visits")


def short_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/s/{code}"


def qr_url(settings: Settings, code: str, fmt: str = "svg") -> str:
    return f"{settings.base_url}/s/{code}/qr.{fmt}"


def _taken(session: Session) -> Any:
    return lambda code: session.scalar(select(Link.id).where(Link.code == code)) is not None


def ensure_story_link(session: Session, story: Story, now: datetime) -> Link:
    """The story's short link, created the first time it is published; it never changes."""
    link = session.scalar(select(Link).where(Link.story_id == story.id))
    if link is None:
        link = Link(
            code=generate_code(_taken(session)),
            story_id=story.id,
            tags=[],
            human_visits=0,
            created_at=now,
        )
        session.add(link)
        session.flush()
    return link


def story_link(session: Session, story_id: int) -> Link | None:
    return session.scalar(select(Link).where(Link.story_id == story_id))


def story_link_codes(session: Session, story_ids: list[int]) -> dict[int, str]:
    """The News Link codes of these stories (one query), by story id; unpublished ones have none."""
    if not story_ids:
        return {}
    rows = session.execute(select(Link.story_id, Link.code).where(Link.story_id.in_(story_ids)))
    return {story_id: code for story_id, code in rows}


def _max_visits(value: Any) -> int | None:
    number = v.non_negative_int(value)
    if number == 0:
        raise ValueError("must be at least 1")
    return number


def clean_link(data: Any, *, partial: bool = False) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError({"": "a link must be a JSON object"})
    errors = v.FieldErrors()
    out: dict[str, Any] = {}
    for key in data:
        if key not in FIELDS:
            errors.errors[str(key)] = "unknown field"
    if "url" in data or not partial:
        out["url"] = errors.check("url", v.http_url, data.get("url"), required=True)
    if data.get("slug") not in (None, ""):
        out["slug"] = errors.check("slug", check_slug, data["slug"])
    if "title" in data:
        out["title"] = errors.check("title", v.optional_text, data["title"], max_len=500)
    if "tags" in data:
        out["tags"] = errors.check("tags", v.string_list, data["tags"], max_items=50, max_len=100)
    if "valid_until" in data:
        out["valid_until"] = errors.check("valid_until", v.aware_datetime, data["valid_until"])
    if "max_visits" in data:
        out["max_visits"] = errors.check("max_visits", _max_visits, data["max_visits"])
    if errors.errors:
        raise ValidationError(errors.errors)
    return out


def create_link(session: Session, data: Any, *, now: datetime) -> Link:
    """An admin's link to any http(s) URL, with a custom slug or a generated code."""
    fields = clean_link(data)
    code = fields.get("slug") or generate_code(_taken(session))
    # Case-insensitive: "Sale" and "sale" would be the same thing read off a poster.
    if session.scalar(select(Link.id).where(func.lower(Link.code) == code.lower())) is not None:
        raise Conflict(f"short link {code!r} is taken", {"slug": "is taken"})
    link = Link(
        code=code,
        target_url=fields["url"],
        title=fields.get("title"),
        tags=fields.get("tags") or [],
        valid_until=fields.get("valid_until"),
        max_visits=fields.get("max_visits"),
        human_visits=0,
        created_at=now,
    )
    session.add(link)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"short link {code!r} is taken", {"slug": "is taken"}) from exc
    return link


def update_link(session: Session, code: str, data: Any) -> Link:
    """Change an admin link's target, title, tags or limits. A story's News Link follows its
    story and only takes title and tags; the code itself never changes."""
    fields = clean_link(data, partial=True)
    link = get_link(session, code)
    if fields.get("slug") not in (None, link.code):
        raise ValidationError({"slug": "cannot be changed: printed codes must keep working"})
    if link.story_id is not None and {"url", "valid_until", "max_visits"} & fields.keys():
        raise ValidationError({"url": "a story's News Link follows the story; edit the story"})
    if "url" in fields:
        link.target_url = fields["url"]
    for key in ("title", "tags", "valid_until", "max_visits"):
        if key in fields:
            setattr(link, key, fields[key] if key != "tags" else (fields[key] or []))
    session.flush()
    return link


def delete_link(session: Session, code: str, *, now: datetime) -> None:
    """Remove an admin link: it answers 410 from now on and its code is never handed out again.
    A story's News Link goes with its story (retract the story instead)."""
    link = get_link(session, code)
    if link.story_id is not None:
        raise Conflict(
            "a story's News Link cannot be deleted; retract the story instead",
            {"code": "belongs to a story"},
        )
    link.deleted_at = now


def get_link(session: Session, code: str) -> Link:
    link = session.scalar(select(Link).where(Link.code == code, Link.deleted_at.is_(None)))
    if link is None:
        raise NotFound(f"no short link {code!r}")
    return link


def list_links(session: Session, *, limit: int = 100) -> list[Link]:
    return list(
        session.scalars(
            select(Link).where(Link.deleted_at.is_(None)).order_by(Link.id.desc()).limit(limit)
        )
    )


def list_links_page(
    session: Session, *, limit: int = 100, after: int | None = None
) -> tuple[list[Link], int | None]:
    """Live links newest first; returns the page and the id to pass as `after` for the next
    one (None on the last page)."""
    query = select(Link).where(Link.deleted_at.is_(None))
    if after is not None:
        query = query.where(Link.id < after)
    rows = list(session.scalars(query.order_by(Link.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1].id
    return rows, None


def target_of(link: Link, story: Story | None, settings: Settings) -> str:
    if link.target_url:
        return link.target_url
    assert story is not None
    return story.url or page_url(settings, story.code)


def link_to_dict(session: Session, link: Link, settings: Settings) -> dict[str, Any]:
    story = session.get(Story, link.story_id) if link.story_id else None
    return {
        "code": link.code,
        "short_url": short_url(settings, link.code),
        "target": target_of(link, story, settings),
        "story": story.code if story else None,
        "title": link.title if link.title is not None else (story.title if story else None),
        "tags": list(link.tags or []),
        "valid_until": v.iso(link.valid_until),
        "max_visits": link.max_visits,
        "human_visits": link.human_visits,
        "qr_svg": qr_url(settings, link.code, "svg"),
        "qr_png": qr_url(settings, link.code, "png"),
        "created_at": v.iso(link.created_at),
    }


def link_stats(session: Session, code: str, *, now: datetime, days: int = 30) -> dict[str, Any]:
    """Visits per day split by medium and by humans / bots, and the top referrer hosts."""
    link = get_link(session, code)
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(Visit.at, Visit.medium, Visit.is_bot).where(
            Visit.link_id == link.id, Visit.at >= since
        )
    ).all()
    per_day: dict[str, dict[str, int]] = {}
    day = since
    while day.date() <= now.date():
        per_day[day.date().isoformat()] = {"link": 0, "qr": 0, "human": 0, "bot": 0}
        day += timedelta(days=1)
    for at, medium, is_bot in rows:
        bucket = per_day.setdefault(
            at.date().isoformat(), {"link": 0, "qr": 0, "human": 0, "bot": 0}
        )
        bucket[medium] += 1
        bucket["bot" if is_bot else "human"] += 1
    totals = session.execute(
        select(Visit.medium, Visit.is_bot, func.count())
        .where(Visit.link_id == link.id)
        .group_by(Visit.medium, Visit.is_bot)
    ).all()
    total = {"visits": 0, "link": 0, "qr": 0, "human": 0, "bot": 0}
    for medium, is_bot, count in totals:
        total["visits"] += count
        total[medium] += count
        total["bot" if is_bot else "human"] += count
    referrers = session.execute(
        select(Visit.referrer_host, func.count().label("n"))
        .where(Visit.link_id == link.id, Visit.referrer_host.is_not(None))
        .group_by(Visit.referrer_host)
        .order_by(func.count().desc(), Visit.referrer_host)
        .limit(10)
    ).all()
    return {
        "code": link.code,
        "days": [{"date": d, **counts} for d, counts in sorted(per_day.items())],
        "total": total,
        "top_referrers": [{"host": host, "visits": n} for host, n in referrers],
    }
