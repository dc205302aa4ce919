"""/api/v1/channels/<slug>/reach and /api/v1/stories/<code>/reach: feed subscribers per day
and by reader, and a story's reach; each also as CSV (`.csv`)."""

from __future__ import annotations

from typing import Any

from syndication.api.common import Blueprint
from syndication.api.reach_schemas import ChannelReachOut, ReachQuery, StoryReachOut
from syndication.auth.access import requires
from syndication.csvexport import csv_response
from syndication.reach import service
from syndication.runtime import runtime

blp = Blueprint(
    "reach_api", __name__, url_prefix="/api/v1", description="Reach: subscribers and story reach"
)
CSV_SCHEMA = {"type": "string", "description": "RFC 4180 CSV with a header row"}


def channel_reach(slug: str, days: int) -> dict[str, Any]:
    rt = runtime()
    rt.reach.flush()  # the requests counted so far by this process, as link stats do
    with rt.db.read() as session:
        return service.channel_reach(session, slug, now=rt.clock(), days=days)


def story_reach(code: str) -> dict[str, Any]:
    rt = runtime()
    rt.visits.flush()
    with rt.db.read() as session:
        return service.story_reach(session, code, now=rt.clock())


@blp.route("/channels/<slug>/reach", methods=["GET"])
@requires("reader")
@blp.arguments(ReachQuery, location="query", as_kwargs=True)
@blp.response(200, ChannelReachOut)
@blp.alt_response(404, response="NOT_FOUND")
def channel(slug: str, days: int) -> Any:
    """Feed subscribers of a channel per UTC day and by reader, and its WebSub subscribers"""
    return channel_reach(slug, days)


@blp.route("/channels/<slug>/reach.csv", methods=["GET"])
@requires("reader")
@blp.arguments(ReachQuery, location="query", as_kwargs=True)
@blp.response(200, CSV_SCHEMA, content_type="text/csv")
@blp.alt_response(404, response="NOT_FOUND")
def channel_csv(slug: str, days: int) -> Any:
    """The same as CSV: date, channel, reader, counted_as, subscribers"""
    reach = channel_reach(slug, days)
    return csv_response(service.channel_reach_rows(reach), f"reach-{reach['channel']}.csv")


@blp.route("/stories/<code>/reach", methods=["GET"])
@requires("reader")
@blp.response(200, StoryReachOut)
@blp.alt_response(404, response="NOT_FOUND")
def story(code: str) -> Any:
    """A story's reach: News Link clicks, QR scans, partner deliveries, WebSub subscribers"""
    return story_reach(code)


@blp.route("/stories/<code>/reach.csv", methods=["GET"])
@requires("reader")
@blp.response(200, CSV_SCHEMA, content_type="text/csv")
@blp.alt_response(404, response="NOT_FOUND")
def story_csv(code: str) -> Any:
    """The same as CSV: story, measure, kind, value"""
    reach = story_reach(code)
    return csv_response(service.story_reach_rows(reach), f"reach-{reach['story']}.csv")
