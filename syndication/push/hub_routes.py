"""`POST /hub`: the WebSub hub's public endpoint (subscribe, unsubscribe, publish).

Answers 202 at once when the request is well-formed (verification of intent comes later, from
the scheduler: push/hub.py); otherwise a 4xx with a plain-text reason: 415 when the body is not
application/x-www-form-urlencoded, 404 when the topic is one of our feed URLs but no such
channel (or format) exists, 400 for everything else (missing or repeated parameters, a bad
mode or lease, a secret of 200 bytes or more, a foreign topic, a refused callback URL).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from syndication.auth.access import public
from syndication.push import hub as hub_service
from syndication.runtime import runtime, utcnow

bp = Blueprint("hub", __name__)


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.post("/hub")
@public
def hub() -> Response:
    rt = runtime()
    try:
        # Checked before the transaction: the callback check may resolve a host name.
        req = hub_service.parse_request(request.content_type, request.get_data(), rt.settings)
        with rt.db.write() as session:
            hub_service.accept(session, rt.settings, req, utcnow())
    except hub_service.HubError as exc:
        return _plain(exc.status, str(exc))
    if req.mode == "publish":
        return _plain(202, "Accepted: subscribers of the topic will be notified.")
    return _plain(202, f"Accepted: the {req.mode} request will be verified at the callback.")
