"""GET /metrics (Prometheus text format, for a scraper) and GET /ready (for a load balancer).

Both are declared public for the role guard (no session or API token applies to them):
/metrics does its own check (ops/scrape_access.py), /ready tells nothing but the state of each
check."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from syndication.auth.access import public
from syndication.ops.collector import DatabaseCollector
from syndication.ops.metrics import CONTENT_TYPE
from syndication.ops.ready import PASSING, Readiness
from syndication.ops.scrape_access import ALLOWED, ScrapeAccess
from syndication.runtime import Runtime, runtime

bp = Blueprint("ops", __name__)
EXTENSION_KEY = "syndication.ops"


@dataclass
class Ops:
    access: ScrapeAccess
    collector: DatabaseCollector
    readiness: Readiness


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions[EXTENSION_KEY] = Ops(
        access=ScrapeAccess(rt.settings),
        collector=DatabaseCollector(rt.db, rt.clock),
        readiness=Readiness(rt.db, rt.settings, rt.clock),
    )
    app.register_blueprint(bp)


def _ops() -> Ops:
    return current_app.extensions[EXTENSION_KEY]


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
@public
def metrics() -> Response:
    ops = _ops()
    decision = ops.access.decide(request.remote_addr, request.headers.get("Authorization"))
    if decision == 401:
        response = _plain(401, "401 Unauthorized: send Authorization: Bearer <metrics_token>.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if decision != ALLOWED:
        return _plain(403, "403 Forbidden: not an allowed address (metrics_allow) or token.")
    body = runtime().metrics.exposition(ops.collector)
    response = Response(body, status=200, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ready")
@public
def ready() -> Response:
    is_ready, checks = _ops().readiness.check()
    body: dict[str, object] = {"status": "ready" if is_ready else "not ready", "checks": checks}
    if not is_ready:
        body["failed"] = [name for name, state in checks.items() if state not in PASSING]
    response = jsonify(body)
    response.status_code = 200 if is_ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
