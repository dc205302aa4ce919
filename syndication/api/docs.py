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

from syndication.api.common import MAX_ID, NOT_BLANK
from syndication.api.idempotency import PARAMETER as IDEMPOTENCY_PARAMETER
from syndication.api.idempotency import is_idempotent
from syndication.auth.access import public
from syndication.config import Settings

bp = Blueprint("api_docs", __name__)
EXTENSION = "syndication.openapi"


def idempotent_posts(app: Flask) -> set[str]:
    """OpenAPI paths whose POST view honours Idempotency-Key (carries the @idempotent mark)."""
    return {
        FlaskPlugin.flaskpath2openapi(rule.rule)
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and is_idempotent(app.view_functions.get(rule.endpoint))
    }


# The error answers, each `{"error": {"code", "message", "fields"}}` (common.ErrorSchema).
ERRORS = {
    "400": "The request cannot be read: the body is not a JSON object (or not JSON), a "
    "header is malformed (an empty Idempotency-Key, say), or a form lacks its CSRF token",
    "401": "No valid credentials (`WWW-Authenticate: Bearer`)",
    "403": "The token's role is too weak for this operation",
    "404": "No such resource",
    "409": "Conflicts with what is stored (a duplicate, a life-cycle step out of order), or "
    "a request with the same Idempotency-Key is still being processed",
    "413": "The body is larger than `max_body`",
    "422": "A field, query parameter or header is wrong: `fields` names each one. The same "
    "Idempotency-Key with a different request is 422 too",
}
# A key the service keeps as sent: no blanks around it (they would be stripped), 1-255 chars.
IDEMPOTENCY_KEY_PATTERN = f"^{NOT_BLANK}(?:.{{0,253}}{NOT_BLANK})?$"
# Request fields whose bound is a setting: (component, property) -> Settings attribute.
MAX_LENGTH_SETTINGS = {
    ("StoryIn", "title"): "title_max",
    ("StoryIn", "summary"): "summary_max",
    ("StoryIn", "body_html"): "body_max",
}


def _error_responses(doc: dict[str, Any]) -> None:
    """Every error status an operation can answer, explicitly (no `default`), so that a
    status the document does not list is a finding, not a match."""
    responses = doc.setdefault("components", {}).setdefault("responses", {})
    responses.pop("DEFAULT_ERROR", None)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorSchema"}}}
    for status, description in ERRORS.items():
        responses[f"ERROR_{status}"] = {"description": description, "content": error}
    responses["ERROR_401"]["headers"] = {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}
    }
    for operations in doc.get("paths", {}).values():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            params = shared + operation.get("parameters", [])
            statuses = {"400", "401", "403"}
            if any(p["in"] == "path" for p in params):
                statuses.add("404")
            if "requestBody" in operation:
                statuses |= {"413", "422"}
            if any(p["in"] in ("query", "header") for p in params):
                statuses.add("422")
            if any(
                p["in"] == "header" and p["name"] == IDEMPOTENCY_PARAMETER["name"] for p in params
            ):
                statuses.add("409")
            answers = operation.setdefault("responses", {})
            answers.pop("default", None)
            for status in statuses:
                answers.setdefault(status, {"$ref": f"#/components/responses/ERROR_{status}"})
            operation["responses"] = dict(sorted(answers.items()))


def _bounds(doc: dict[str, Any], settings: Settings | None) -> None:
    """Bounds the marshmallow schemas cannot know: ids fit their 32-bit columns, lengths
    that are settings."""
    for operations in doc.get("paths", {}).values():
        for param in operations.get("parameters", []):
            if param["in"] == "path" and param["schema"].get("type") == "integer":
                param["schema"].update(minimum=1, maximum=MAX_ID)
    if settings is None:
        return
    schemas = doc.get("components", {}).get("schemas", {})
    for (component, prop), setting in MAX_LENGTH_SETTINGS.items():
        for name in (component, component + "Patch"):
            field = schemas.get(name, {}).get("properties", {}).get(prop)
            if field is not None:
                field["maxLength"] = getattr(settings, setting)


# Names that never change: PATCH takes one back as read (the resource's own) and refuses
# another (422), so the document says not to send it (readOnly).
NAMES = {"StoryInPatch": "code", "ChannelInPatch": "slug", "LinkInPatch": "slug"}


def _names_never_change(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    for component, prop in NAMES.items():
        field = schemas.get(component, {}).get("properties", {}).get(prop)
        if field is not None:
            field["readOnly"] = True
            field["description"] = "never changes: sent back as read, it is ignored"


def _scheduled_needs_publish_at(doc: dict[str, Any]) -> None:
    """`status: scheduled` needs `publish_at` in the same body (stories.schema.clean_story)."""
    rule = {
        "if": {"properties": {"status": {"const": "scheduled"}}, "required": ["status"]},
        "then": {"required": ["publish_at"], "properties": {"publish_at": {"type": "string"}}},
    }
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("StoryIn", "StoryInPatch"):
        if name in schemas:
            schemas[name].update(copy.deepcopy(rule))


def _pull_has_no_url(doc: dict[str, Any]) -> None:
    """A webhook subscriber needs `url`; one of kind `pull` has none, no headers and no throttle
    (push.subscribers.clean_subscriber)."""
    rule = {
        "if": {"properties": {"kind": {"const": "pull"}}, "required": ["kind"]},
        "then": {
            "not": {"required": ["url"]},
            "properties": {
                "headers": {"type": ["object", "null"], "maxProperties": 0},
                "throttle": {"type": "null"},
            },
        },
        "else": {"required": ["url"]},
    }
    schema = doc.get("components", {}).get("schemas", {}).get("SubscriberIn")
    if schema is not None:
        schema.update(copy.deepcopy(rule))


def document(api: Any, app: Flask) -> dict[str, Any]:
    """The OpenAPI document, finished: Idempotency-Key on exactly the POST operations whose
    view is @idempotent, read from the app's views so the document cannot promise what a
    view ignores (POST /api/v1/tokens is not: see tokens.create); every error status listed;
    the bounds that come from settings."""
    doc = copy.deepcopy(api.spec.to_dict())
    honoured = idempotent_posts(app)
    key = {
        **IDEMPOTENCY_PARAMETER,
        "schema": {**IDEMPOTENCY_PARAMETER["schema"], "pattern": IDEMPOTENCY_KEY_PATTERN},
    }
    for path, operations in doc.get("paths", {}).items():
        post = operations.get("post")
        if post is not None and path in honoured:
            post.setdefault("parameters", []).append(copy.deepcopy(key))
    runtime = app.extensions.get("syndication")
    _bounds(doc, getattr(runtime, "settings", None))
    _scheduled_needs_publish_at(doc)
    _pull_has_no_url(doc)
    _names_never_change(doc)
    _error_responses(doc)
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
