"""/api/v1/channels: create, list, read, change, delete, and preview a channel's feed."""

from __future__ import annotations

from typing import Any

from flask import url_for

from syndication.api.channel_schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPage,
    PreviewOut,
    PreviewQuery,
)
from syndication.api.common import Blueprint, created, patch_schema
from syndication.api.idempotency import idempotent
from syndication.auth.access import requires
from syndication.channels import service
from syndication.channels.preview import preview as render_preview
from syndication.runtime import runtime

blp = Blueprint("channels", __name__, url_prefix="/api/v1/channels", description="Channels (feeds)")
LOCATION = {"Location": {"description": "URL of the new channel", "schema": {"type": "string"}}}


@blp.route("", methods=["POST"])
@requires("admin")
@idempotent
@blp.arguments(ChannelIn)
@blp.response(201, ChannelOut, headers=LOCATION)
@blp.alt_response(409, response="CONFLICT", description="The slug is taken")
def create(data: dict[str, Any]) -> Any:
    """Create a channel"""
    rt = runtime()
    with rt.db.write() as session:
        channel = service.create_channel(session, data, now=rt.clock())
        body = service.channel_to_dict(channel, rt.settings)
    return created(body, url_for("channels.channel", slug=channel.slug))


@blp.route("", methods=["GET"])
@requires("reader")
@blp.response(200, ChannelPage)
def index() -> Any:
    """List channels (all of them, by slug: `next` is always null)"""
    rt = runtime()
    with rt.db.read() as session:
        items = [service.channel_to_dict(c, rt.settings) for c in service.list_channels(session)]
    return {"items": items, "next": None}


@blp.route("/<slug>", methods=["GET"])
@requires("reader")
@blp.response(200, ChannelOut)
@blp.alt_response(404, response="NOT_FOUND")
def channel(slug: str) -> Any:
    """Read a channel"""
    rt = runtime()
    with rt.db.read() as session:
        return service.channel_to_dict(service.get_channel(session, slug), rt.settings)


@blp.route("/<slug>", methods=["PATCH"])
@requires("admin")
@blp.arguments(patch_schema(ChannelIn))
@blp.response(200, ChannelOut)
@blp.alt_response(404, response="NOT_FOUND")
def patch(data: dict[str, Any], slug: str) -> Any:
    """Change some fields of a channel"""
    rt = runtime()
    with rt.db.write() as session:
        channel = service.update_channel(session, slug, data, now=rt.clock())
        return service.channel_to_dict(channel, rt.settings)


@blp.route("/<slug>", methods=["DELETE"])
@requires("admin")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
def delete(slug: str) -> Any:
    """Delete a channel (its feed URLs answer 404 from then on)"""
    rt = runtime()
    with rt.db.write() as session:
        service.delete_channel(session, slug, now=rt.clock())
    return "", 204


@blp.route("/<slug>/preview", methods=["GET"])
@requires("reader")
@blp.arguments(PreviewQuery, location="query", as_kwargs=True)
@blp.response(200, PreviewOut)
@blp.alt_response(404, response="NOT_FOUND")
def preview(slug: str, format: str) -> Any:  # noqa: A002 - the query parameter's name
    """The channel's feed as it would be served now, with validation findings"""
    rt = runtime()
    with rt.db.read() as session:
        channel = service.get_channel(session, slug)
        result = render_preview(session, rt.settings, channel, format, rt.items)
    return {
        "format": result.format,
        "content_type": result.content_type,
        "body": result.body.decode("utf-8"),
        "findings": [{"level": x.level, "message": x.message} for x in result.findings],
    }
