"""/api/v1/partner/events: the pull API, for partners that cannot receive webhooks (partner
tokens only): the events their pull subscribers would get as webhooks, in version order, each
once, with a cursor that acknowledges them (push/pull.py)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from werkzeug.exceptions import Forbidden, TooManyRequests

from syndication.api.common import Blueprint, ErrorSchema
from syndication.api.partner_event_schemas import PartnerEventPage, PartnerEventQuery
from syndication.auth.access import requires
from syndication.auth.roles import PARTNER
from syndication.auth.session import current_principal
from syndication.push import pull
from syndication.runtime import runtime

blp = Blueprint(
    "partner_events",
    __name__,
    url_prefix="/api/v1/partner",
    description="For partners: pull your events instead of receiving webhooks",
)


@blp.route("/events", methods=["GET"])
@requires(PARTNER)
@blp.arguments(PartnerEventQuery, location="query", as_kwargs=True)
@blp.response(200, PartnerEventPage)
@blp.alt_response(404, response="NOT_FOUND", description="No such pull subscriber of yours")
@blp.alt_response(
    429,
    schema=ErrorSchema,
    description="Too many long-polls (`wait`) of your partner at once",
    headers={"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
)
def events(limit: int, wait: int, after: str | None = None, subscriber: int | None = None) -> Any:
    """Pull your events (a partner token)

    The events your pull subscribers get, with exactly the payload their webhooks would carry,
    oldest first. Send the `cursor` of each answer as `after` in the next request: that
    acknowledges the answer's events, which then never come again; an answer you did not get
    comes again with the same `after`. `wait` long-polls.
    """
    principal = current_principal()
    if principal is None or principal.partner_id is None:
        raise Forbidden("Only a partner's token reaches the partner API.")
    rt = runtime()
    try:
        page, cursor = pull.pull(
            rt.db,
            rt.push.pull,
            rt.clock,
            pull.cursor_key(current_app.secret_key or ""),
            principal.partner_id,
            subscriber_id=subscriber,
            after=after,
            limit=limit,
            wait=wait,
        )
    except pull.TooManyWaits as exc:
        raise TooManyRequests(exc.message, retry_after=exc.retry_after) from None
    return {
        "data": [pull.item_to_dict(item) for item in page.items],
        "cursor": cursor,
        "more": page.more,
    }
