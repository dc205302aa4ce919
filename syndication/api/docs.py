"""The OpenAPI document (/api/v1/openapi.json) and its rendered docs (/api/docs), both public.

Swagger UI is served by the service itself from syndication/static/swagger-ui/ (Swagger UI 5,
Apache-2.0, vendored from the swagger-ui-dist package): no CDN, and version 5 renders OpenAPI
3.1 (the swagger-ui-bundle PyPI package still ships 4.x, which does not).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, url_for
from flask_smorest.spec.plugins import FlaskPlugin

from syndication.api.idempotency import PARAMETER as IDEMPOTENCY_PARAMETER
from syndication.api.idempotency import is_idempotent
from syndication.auth.access import public

bp = Blueprint("api_docs", __name__)
EXTENSION = "syndication.openapi"


def idempotent_posts(app: Flask) -> set[str]:
    """OpenAPI paths whose POST view honours Idempotency-Key (carries the @idempotent mark)."""
    return {
        FlaskPlugin.flaskpath2openapi(rule.rule)
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and is_idempotent(app.view_functions.get(rule.endpoint))
    }


def document(api: Any, app: Flask) -> dict[str, Any]:
    """The OpenAPI document, finished: Idempotency-Key on exactly the POST operations whose
    view is @idempotent, read from the app's views so the document cannot promise what a
    view ignores. (POST /api/v1/tokens is not: see tokens.create.)"""
    doc = copy.deepcopy(api.spec.to_dict())
    honoured = idempotent_posts(app)
    for path, operations in doc.get("paths", {}).items():
        post = operations.get("post")
        if post is not None and path in honoured:
            post.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
    return doc


@bp.get("/api/v1/openapi.json")
@public
def openapi_json() -> Response:
    cached = current_app.extensions.get(EXTENSION)
    if cached is None:
        cached = current_app.extensions[EXTENSION] = document(
            current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"], current_app
        )
    return jsonify(cached)


@bp.get("/api/docs")
@public
def swagger_ui() -> str:
    return render_template(
        "api_docs.html",
        title="syndication API",
        spec_url=url_for("api_docs.openapi_json"),
    )
