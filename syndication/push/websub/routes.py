"""`POST /hub`: the WebSub hub's public endpoint (subscribe, unsubscribe, publish).

Answers 202 at once when the request is well-formed (verification of intent comes later, from
the scheduler: push/websub/verify.py); otherwise a 4xx with a plain-text reason: 415 when the
body is not application/x-www-form-urlencoded, 404 when the topic is one of our feed URLs but
no such channel (or format) exists, 429 with Retry-After when the client posted more than
`hub_rate_limit` requests this minute or its callback's host has too many verifications
pending, 400 for everything else (missing or repeated parameters, a bad mode or lease, a secret
of 200 bytes or more, a foreign topic, a refused callback URL).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from syndication.auth.access import public
from syndication.push.websub import hub as hub_service
from syndication.ratelimit import client_key
from syndication.runtime import runtime

bp = Blueprint("hub", __name__)


def _plain(status: int, message: str, retry_after: int | None = None) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/hub")
@public
def hub() -> Response:
    rt = runtime()
    # Counted before anything else is done for the request (behind trusted_proxies,
    # remote_addr is the real client's).
    wait = rt.limiter.hit(f"hub:{client_key(request.remote_addr)}", rt.settings.hub_rate_limit)
    if wait is not None:
        return _plain(
            429,
            f"Too many requests: at most {rt.settings.hub_rate_limit} a minute from one "
            f"address; try again in {wait} s.",
            wait,
        )
    try:
        # Checked before the transaction: the callback check may resolve a host name.
        req = hub_service.parse_request(
            request.content_type, request.get_data(), rt.settings, rt.push.outbound.check_sync
        )
        with rt.db.write() as session:
            hub_service.accept(session, rt.settings, req, rt.clock())
    except hub_service.HubError as exc:
        return _plain(exc.status, str(exc), exc.retry_after)
    if req.mode == "publish":
        return _plain(202, "Accepted: subscribers of the topic will be notified if it changed.")
    return _plain(202, f"Accepted: the {req.mode} request will be verified at the callback.")
