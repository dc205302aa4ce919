"""The OpenAPI document (/api/v1/openapi.json) and its rendered docs (/api/docs), both public.

Swagger UI is served by the service itself from syndication/static/swagger-ui/ (Swagger UI 5,
Apache-2.0, vendored from the swagger-ui-dist package): no CDN, and version 5 renders OpenAPI
3.1 (the swagger-ui-bundle PyPI package still ships 4.x, which does not).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

from syndication.api.idempotency import PARAMETER as IDEMPOTENCY_PARAMETER
from syndication.auth.access import public

bp = Blueprint("api_docs", __name__)
EXTENSION = "syndication.openapi"


def document(api: Any) -> dict[str, Any]:
    """The OpenAPI document, finished: Idempotency-Key on every creating POST."""
    doc = copy.deepcopy(api.spec.to_dict())
    for path, operations in doc.get("paths", {}).items():
        post = operations.get("post")
        if post is not None and not path.startswith("/api/v1/tokens"):
            post.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
    return doc


@bp.get("/api/v1/openapi.json")
@public
def openapi_json() -> Response:
    cached = current_app.extensions.get(EXTENSION)
    if cached is None:
        cached = current_app.extensions[EXTENSION] = document(
            current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
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
