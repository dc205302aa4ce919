"""The REST API under /api/v1 (flask-smorest; why: see common.py).

One module per resource (stories, channels, links, tokens, partners…), each with its payload schemas
beside it (`*_schemas.py`); docs.py serves the OpenAPI 3.1 document and Swagger UI.
Access is declared on every view with auth.access (`@requires`; tokens are admin-only).
"""

from __future__ import annotations

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask

from syndication.api.common import Api

API_TITLE = "syndication"
API_VERSION = "1"


def _schema_name(schema: type[ma.Schema] | ma.Schema) -> str:
    """Component name of a schema: its class name, "…Patch" for the partial one of PATCH."""
    name = resolve_schema_cls(schema).__name__
    if isinstance(schema, ma.Schema) and schema.partial:
        name += "Patch"
    return name


def init_api(app: Flask) -> Api:
    from syndication.api import (
        channels,
        deliveries,
        docs,
        links,
        media,
        partner_events,
        partners,
        reach,
        stories,
        subscribers,
        tokens,
        websub,
    )

    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=None,  # docs.py serves the document and the UI
        API_SPEC_OPTIONS={
            "info": {
                "description": "Stories, uploaded images, channels, short links, API tokens and "
                "partner webhooks "
                "(subscribers, deliveries), partners, WebSub subscriptions, and for partners the "
                "pull API (/api/v1/partner/events, a partner token). Authenticate "
                "with `Authorization: Bearer <token>` (`syndication token create`). Errors are "
                '`{"error": {"code", "message", "fields"}}`. Lists are '
                '`{"items": [...], "next": <URL of the next page> | null}`. Every JSON body is '
                "I-JSON (RFC 7493): no NUL and no lone surrogate in any string or name, numbers "
                "within ±2^53, no NaN; nested at most `json_max_depth` (32) deep (400), else "
                "422 naming the field. Every date-time lies between 1900-01-01T00:00:00Z and "
                "9999-12-30T23:59:59Z once its offset is applied (422)."
            },
            "security": [{"bearer": []}],
        },
    )
    api = Api(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(_schema_name)})
    api.spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: roles reader (read-only), editor (stories and "
            "links), admin (everything, tokens, webhooks and partners included); partner "
            "(a partner's token: none of the above, only the partner API: its own events)",
        },
    )
    for module in (
        stories,
        media,
        channels,
        links,
        tokens,
        subscribers,
        deliveries,
        partner_events,
        partners,
        websub,
        reach,
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs.bp)
    return api
