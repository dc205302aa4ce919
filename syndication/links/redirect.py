"""Resolving a short link: one indexed query, a decision, a visit recorded in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from syndication.config import Settings
from syndication.db import Database
from syndication.i18n import N_
from syndication.links.bots import is_bot
from syndication.links.visits import PendingVisit, VisitBuffer

LOOKUP_SQL = (
    "SELECT l.id, l.target_url, l.valid_until, l.max_visits, l.human_visits, l.deleted_at,"
    " s.status, s.url, s.code"
    " FROM links l LEFT JOIN stories s ON s.id = l.story_id WHERE l.code = ?"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # a redirect status, or 404 / 410
    location: str | None = None
    reason: str = ""


def _as_utc(value: datetime | str | None) -> datetime | None:
    """SQLite hands raw columns over as naive UTC text, PostgreSQL as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def with_utm(url: str, utm: str, medium: str) -> str:
    """Append the configured utm_* parameters that the target does not already carry."""
    if not utm:
        return url
    parts = urlsplit(url)
    existing = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(k, v) for k, v in parse_qsl(utm.replace("{medium}", medium)) if k not in existing]
    if not extra:
        return url
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit(parts._replace(query=query))


def answer(
    db: Database,
    code: str,
    settings: Settings,
    buffer: VisitBuffer,
    *,
    medium: str,
    user_agent: str,
    referrer: str | None,
    now: datetime,
) -> Outcome:
    """Look the link up and decide; the one entry point of the Flask route and the fast path."""
    while True:
        # The token comes first: it tells the buffer which of its flushes the read may have
        # seen. A read too old to judge (very rare: it spanned several flushes) is redone.
        token = buffer.token()
        outcome = resolve(
            db.fetch_one(LOOKUP_SQL, (code,)),
            settings,
            buffer,
            token=token,
            medium=medium,
            user_agent=user_agent,
            referrer=referrer,
            now=now,
        )
        if outcome is not None:
            return outcome


def resolve(
    row: tuple | None,
    settings: Settings,
    buffer: VisitBuffer,
    *,
    token: int,
    medium: str,
    user_agent: str,
    referrer: str | None,
    now: datetime,
) -> Outcome | None:
    """Decide what a request for a short link gets, and record the visit if it is let through.
    `row` is the LOOKUP_SQL row read after `buffer.token()` gave `token`; None means read again.
    """
    if row is None:
        return Outcome(404, reason=N_("There is no short link with this code."))
    link_id, target, valid_until, max_visits, human_visits, deleted_at, status, url, code = row
    if deleted_at is not None:
        return Outcome(410, reason=N_("This short link has been removed."))
    if code is not None:  # a story's News Link
        if status == "retracted":
            return Outcome(410, reason=N_("This story has been retracted."))
        if status == "killed":
            return Outcome(410, reason=N_("This story has been taken down."))
        if status != "published":
            return Outcome(404, reason=N_("There is no such story."))
        target = url or f"{settings.base_url}/stories/{code}"
    expiry = _as_utc(valid_until)
    if expiry is not None and now >= expiry:
        return Outcome(410, reason=N_("This short link has expired."))
    host = None
    if referrer:
        try:
            host = (urlsplit(referrer).hostname or "")[:255] or None
        except ValueError:
            host = None
    visit = PendingVisit(link_id, now, medium, is_bot(user_agent), host)
    # Once used up, a link is gone for everyone; bots only never use it up themselves.
    admitted = buffer.admit(visit, token=token, counted=human_visits, limit=max_visits)
    if admitted is None:
        return None
    if not admitted:
        return Outcome(410, reason=N_("This short link has been used up."))
    return Outcome(settings.link_redirect_status, with_utm(target, settings.link_utm, medium))
