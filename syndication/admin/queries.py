"""What the dashboard shows, read with a few small queries (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndication.models import Channel, Link, Story, Visit
from syndication.stories.schema import STATUSES


@dataclass(frozen=True)
class Dashboard:
    stories: dict[str, int]  # by status, every status present
    channels: int
    links: int
    recent: list[Story]  # latest publishes
    scheduled: list[Story]  # next to be released
    busiest: list[tuple[Link, Story | None]]  # by human visits
    # Bot visits to live links, counted only when no link has a human visit (then the busiest
    # list is empty, and "no visits" would be wrong while bots came), at most BOT_COUNT_CAP + 1.
    bot_visits: int = 0

    @property
    def bot_visits_text(self) -> str:
        n = self.bot_visits
        return f"more than {BOT_COUNT_CAP}" if n > BOT_COUNT_CAP else str(n)


# The dashboard reads a count of bot visits, not the whole visits table: a bounded count.
BOT_COUNT_CAP = 1000


def dashboard(session: Session, *, limit: int = 5) -> Dashboard:
    by_status: dict[str, Any] = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(select(Story.status, func.count()).group_by(Story.status)):
        by_status[status] = count
    recent = session.scalars(
        select(Story)
        .where(Story.status == "published")
        .order_by(Story.published_at.desc(), Story.id.desc())
        .limit(limit)
    ).all()
    scheduled = session.scalars(
        select(Story)
        .where(Story.status == "scheduled")
        .order_by(Story.publish_at, Story.id)
        .limit(limit)
    ).all()
    busiest = session.execute(
        select(Link, Story)
        .outerjoin(Story, Story.id == Link.story_id)
        .where(Link.deleted_at.is_(None), Link.human_visits > 0)
        .order_by(Link.human_visits.desc(), Link.id)
        .limit(limit)
    ).all()
    bot_visits = 0
    if not busiest:
        bot_visits = (
            session.scalar(
                select(func.count()).select_from(
                    select(Visit.id)
                    .join(Link, Link.id == Visit.link_id)
                    .where(Visit.is_bot, Link.deleted_at.is_(None))
                    .limit(BOT_COUNT_CAP + 1)
                    .subquery()
                )
            )
            or 0
        )
    return Dashboard(
        stories=by_status,
        channels=session.scalar(select(func.count()).select_from(Channel)) or 0,
        links=session.scalar(
            select(func.count()).select_from(Link).where(Link.deleted_at.is_(None))
        )
        or 0,
        recent=list(recent),
        scheduled=list(scheduled),
        busiest=[(link, story) for link, story in busiest],
        bot_visits=bot_visits,
    )
