"""/api/v1/links: custom short links (create, list, read, change, delete) and visit stats.
A story's News Link is made by publishing the story and is listed here too."""

from __future__ import annotations

from typing import Any

from flask import url_for

from syndication.api.common import Blueprint, created, cursor_id, patch_schema
from syndication.api.idempotency import idempotent
from syndication.api.link_schemas import LinkIn, LinkOut, LinkPage, LinkQuery, StatsOut, StatsQuery
from syndication.auth.access import requires
from syndication.links import service
from syndication.runtime import runtime

blp = Blueprint("links_api", __name__, url_prefix="/api/v1/links", description="Short links")
LOCATION = {"Location": {"description": "URL of the new link", "schema": {"type": "string"}}}


@blp.route("", methods=["POST"])
@requires("editor")
@idempotent
@blp.arguments(LinkIn)
@blp.response(201, LinkOut, headers=LOCATION)
@blp.alt_response(409, response="CONFLICT", description="The slug is taken")
def create(data: dict[str, Any]) -> Any:
    """Create a short link to any http(s) URL"""
    rt = runtime()
    with rt.db.write() as session:
        link = service.create_link(session, data, now=rt.clock())
        body = service.link_to_dict(session, link, rt.settings)
    return created(body, url_for("links_api.link", code=link.code))


@blp.route("", methods=["GET"])
@requires("reader")
@blp.arguments(LinkQuery, location="query", as_kwargs=True)
@blp.response(200, LinkPage)
def index(limit: int, cursor: str | None = None) -> Any:
    """List short links, newest first (follow `next` until it is null)"""
    after = cursor_id(cursor, "int")
    rt = runtime()
    with rt.db.read() as session:
        rows, after = service.list_links_page(session, limit=limit, after=after)
        items = [service.link_to_dict(session, link, rt.settings) for link in rows]
    nxt = None
    if after is not None:
        nxt = rt.settings.base_url + url_for("links_api.index", limit=limit, cursor=after)
    return {"items": items, "next": nxt}


@blp.route("/<code>", methods=["GET"])
@requires("reader")
@blp.response(200, LinkOut)
@blp.alt_response(404, response="NOT_FOUND")
def link(code: str) -> Any:
    """Read a short link"""
    rt = runtime()
    with rt.db.read() as session:
        return service.link_to_dict(session, service.get_link(session, code), rt.settings)


@blp.route("/<code>", methods=["PATCH"])
@requires("editor")
@blp.arguments(patch_schema(LinkIn))
@blp.response(200, LinkOut)
@blp.alt_response(404, response="NOT_FOUND")
def patch(data: dict[str, Any], code: str) -> Any:
    """Change a link's target, title, tags or limits (a News Link: title and tags only)"""
    rt = runtime()
    with rt.db.write() as session:
        link = service.update_link(session, code, data)
        return service.link_to_dict(session, link, rt.settings)


@blp.route("/<code>", methods=["DELETE"])
@requires("editor")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="A story's News Link")
def delete(code: str) -> Any:
    """Delete a custom link: it answers 410 Gone from then on, and its code is never reused"""
    rt = runtime()
    with rt.db.write() as session:
        service.delete_link(session, code, now=rt.clock())
    return "", 204


@blp.route("/<code>/stats", methods=["GET"])
@requires("reader")
@blp.arguments(StatsQuery, location="query", as_kwargs=True)
@blp.response(200, StatsOut)
@blp.alt_response(404, response="NOT_FOUND")
def stats(code: str, days: int) -> Any:
    """Visits per day (short link vs QR scan, humans vs bots) and top referrers"""
    rt = runtime()
    with rt.db.read() as session:
        return service.link_stats(session, code, now=rt.clock(), days=days)
