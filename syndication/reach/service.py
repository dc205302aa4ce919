"""Reach, as the admin pages and the API show it (no HTTP here).

A channel's feed subscribers on a UTC day = the sum of the counts readers stated that day (each
reader's latest per feed id) + the distinct other clients that fetched it that day (see
reach/buffer.py for what is stored). Its WebSub subscribers are its active subscriptions (a
verified lease not yet over). A story's reach: its News Link clicks and QR scans, its partner
deliveries by kind and outcome, and the WebSub subscribers of the channels it is in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from syndication.channels.service import get_channel
from syndication.filters import StoryFilter, story_terms
from syndication.models import (
    Channel,
    Delivery,
    Event,
    Link,
    ReachClient,
    ReachReport,
    Story,
    Subscriber,
    Visit,
)
from syndication.stories.service import get_story

MAX_DAYS = 400
# Delivery statuses as reach reports them; cancelled and skipped ones (the partner was disabled
# or removed before its turn) reached nobody and are not shown.
OUTCOMES = {"delivered": "delivered", "dead": "failed", "pending": "pending"}
KINDS = ("webhook", "websub")


def _day_range(today: date, days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def websub_subscribers(session: Session, slugs: list[str], now: datetime) -> dict[str, int]:
    """Active WebSub subscriptions per channel slug (a verified lease not yet over)."""
    counts = dict.fromkeys(slugs, 0)
    rows = session.scalars(
        select(Subscriber.channels).where(
            Subscriber.kind == "websub",
            Subscriber.active.is_(True),
            Subscriber.verified_at.is_not(None),
            Subscriber.lease_expires_at > now,
        )
    )
    for channels in rows:
        for slug in channels or []:
            if slug in counts:
                counts[slug] += 1
    return counts


def websub_topics(session: Session, slug: str, now: datetime) -> list[dict[str, Any]]:
    """Active WebSub subscriptions of one channel per topic (feed URL), busiest first."""
    rows = session.execute(
        select(Subscriber.topic, Subscriber.channels).where(
            Subscriber.kind == "websub",
            Subscriber.active.is_(True),
            Subscriber.verified_at.is_not(None),
            Subscriber.lease_expires_at > now,
        )
    ).all()
    per_topic: dict[str, int] = defaultdict(int)
    for topic, channels in rows:
        if slug in (channels or []):
            per_topic[topic or ""] += 1
    return [
        {"topic": topic, "subscribers": n}
        for topic, n in sorted(per_topic.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def channel_reach(session: Session, slug: str, *, now: datetime, days: int) -> dict[str, Any]:
    """Feed subscribers per day for the last `days` UTC days (today included, so far), by
    reader, and the channel's WebSub subscribers now. NotFound for an unknown channel."""
    channel = get_channel(session, slug)
    today = now.date()
    dates = _day_range(today, days)
    first = dates[0]
    by_day: dict[date, dict[tuple[str, str], int]] = {d: {} for d in dates}
    for day, reader, count in session.execute(
        select(ReachReport.day, ReachReport.reader, func.sum(ReachReport.subscribers))
        .where(ReachReport.channel_id == channel.id, ReachReport.day >= first)
        .group_by(ReachReport.day, ReachReport.reader)
    ):
        if day in by_day:
            by_day[day][(reader, "stated")] = int(count)
    for day, reader, count in session.execute(
        select(ReachClient.day, ReachClient.reader, func.count())
        .where(ReachClient.channel_id == channel.id, ReachClient.day >= first)
        .group_by(ReachClient.day, ReachClient.reader)
    ):
        if day in by_day:
            by_day[day][(reader, "clients")] = int(count)
    out_days = []
    for day in dates:
        readers = sorted(by_day[day].items(), key=lambda kv: (-kv[1], kv[0]))
        stated = sum(n for (_, how), n in readers if how == "stated")
        clients = sum(n for (_, how), n in readers if how == "clients")
        out_days.append(
            {
                "date": day.isoformat(),
                "subscribers": stated + clients,
                "stated": stated,
                "clients": clients,
                "readers": [
                    {"reader": reader, "counted_as": how, "subscribers": n}
                    for (reader, how), n in readers
                ],
            }
        )
    topics = websub_topics(session, channel.slug, now)
    return {
        "channel": channel.slug,
        "title": channel.title,
        "days": out_days,
        "readers": _reader_summary(out_days),
        "websub": {"subscribers": sum(t["subscribers"] for t in topics), "topics": topics},
    }


def _reader_summary(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reader of the period: its count on the newest day that has any count, and its
    highest, busiest first."""
    latest_day = next((d for d in reversed(days) if d["readers"]), None)
    latest = {
        (r["reader"], r["counted_as"]): r["subscribers"]
        for r in (latest_day["readers"] if latest_day else [])
    }
    peak: dict[tuple[str, str], int] = {}
    for d in days:
        for r in d["readers"]:
            key = (r["reader"], r["counted_as"])
            peak[key] = max(peak.get(key, 0), r["subscribers"])
    rows = [
        {"reader": reader, "counted_as": how, "latest": latest.get((reader, how), 0), "peak": n}
        for (reader, how), n in peak.items()
    ]
    return sorted(rows, key=lambda r: (-r["latest"], -r["peak"], r["reader"], r["counted_as"]))


def channel_reach_rows(reach: dict[str, Any]) -> list[list[Any]]:
    """The CSV of a channel's reach: one row per day and reader (header first)."""
    rows: list[list[Any]] = [["date", "channel", "reader", "counted_as", "subscribers"]]
    for day in reach["days"]:
        for r in day["readers"]:
            rows.append([day["date"], reach["channel"], r["reader"], r["counted_as"],
                         r["subscribers"]])  # fmt: skip
    return rows


def story_channels(session: Session, story: Story) -> list[str]:
    """The slugs of the channels whose filter the story matches now."""
    terms = story_terms(
        section=story.section,
        tags=story.tags or [],
        language=story.language,
        source=story.source,
        authors=story.authors or [],
    )
    return [
        c.slug
        for c in session.scalars(select(Channel).order_by(Channel.slug))
        if StoryFilter.from_dict(c.filter).matches(terms)
    ]


def story_reach(session: Session, code: str, *, now: datetime) -> dict[str, Any]:
    """Link clicks and QR scans (humans and bots apart), partner deliveries by kind and outcome,
    and the WebSub subscribers of the story's channels. NotFound for an unknown story."""
    story = get_story(session, code)
    visits = {"link": 0, "qr": 0, "link_humans": 0, "qr_humans": 0}
    for medium, is_bot, n in session.execute(
        select(Visit.medium, Visit.is_bot, func.count())
        .join(Link, Link.id == Visit.link_id)
        .where(Link.story_id == story.id)
        .group_by(Visit.medium, Visit.is_bot)
    ):
        if medium in ("link", "qr"):
            visits[medium] += n
            if not is_bot:
                visits[f"{medium}_humans"] += n
    deliveries = {kind: dict.fromkeys(("delivered", "failed", "pending"), 0) for kind in KINDS}
    for kind, status, n in session.execute(
        select(Subscriber.kind, Delivery.status, func.count())
        .join(Event, Event.id == Delivery.event_id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Event.story_id == story.id)
        .group_by(Subscriber.kind, Delivery.status)
    ):
        outcome = OUTCOMES.get(status)
        if outcome and kind in deliveries:
            deliveries[kind][outcome] += n
    slugs = story_channels(session, story)
    websub = websub_subscribers(session, slugs, now)
    return {
        "story": story.code,
        "title": story.title,
        "link_clicks": visits["link"],
        "link_clicks_humans": visits["link_humans"],
        "qr_scans": visits["qr"],
        "qr_scans_humans": visits["qr_humans"],
        "deliveries": deliveries,
        "channels": [{"channel": s, "websub_subscribers": websub[s]} for s in slugs],
        "websub_subscribers": sum(websub.values()),
    }


def story_reach_rows(reach: dict[str, Any]) -> list[list[Any]]:
    """The CSV of a story's reach: one measure a row (header first)."""
    code = reach["story"]
    rows: list[list[Any]] = [["story", "measure", "kind", "value"]]
    rows.append([code, "link_clicks", "all", reach["link_clicks"]])
    rows.append([code, "link_clicks", "humans", reach["link_clicks_humans"]])
    rows.append([code, "qr_scans", "all", reach["qr_scans"]])
    rows.append([code, "qr_scans", "humans", reach["qr_scans_humans"]])
    for kind, outcomes in reach["deliveries"].items():
        for outcome, n in outcomes.items():
            rows.append([code, f"deliveries_{outcome}", kind, n])
    for c in reach["channels"]:
        rows.append([code, "websub_subscribers", c["channel"], c["websub_subscribers"]])
    return rows


def prune(session: Session, *, today: date, retention_days: int) -> int:
    """Delete the days older than `retention_days`; returns how many rows went."""
    cutoff = today - timedelta(days=retention_days)
    gone = session.execute(delete(ReachReport).where(ReachReport.day < cutoff)).rowcount
    gone += session.execute(delete(ReachClient).where(ReachClient.day < cutoff)).rowcount
    return int(gone or 0)
