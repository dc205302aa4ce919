"""What every API resource shares: the flask-smorest Api and Blueprint, the JSON body parser,
the error body and the list envelope.

Library choice: flask-smorest (marshmallow + apispec + webargs). It plugs into the plain
`Flask` app that create_app builds (APIFlask would replace the Flask class itself), describes
each view from the marshmallow schemas it already uses to parse and dump (schemas are written
once, in the *_schemas.py modules beside the handlers), and apispec emits OpenAPI 3.1
(`OPENAPI_VERSION = "3.1.0"`: nullable fields become `type: [..., "null"]`).

Two of its defaults are replaced here: its own HTTPException handler (the app keeps its one
handler, which shapes every /api/ error as `{"error": {"code", "message", "fields"}}`, see
`error_body`) and its documentation blueprint (docs.py serves the document and Swagger UI
itself, both public, from local files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, HTTPException

from syndication import inputs
from syndication.errors import Conflict, NotFound, ServiceError, ValidationError
from syndication.runtime import runtime

JSON_TYPES = ("application/json",)
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
}


# --- errors -----------------------------------------------------------------------------------


class FieldErrorSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        metadata={"description": "Machine-readable error code (invalid, not_found, conflict…)"},
    )
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={
            "description": "Field path (dotted, e.g. `image.url`; `` for the whole body) to "
            "what is wrong with it; empty when the error is not about a field"
        },
    )


class ErrorSchema(ma.Schema):
    """Every API error, whatever its status."""

    error = ma.fields.Nested(FieldErrorSchema, required=True)


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow/webargs messages ({"json": {"image": {"url": ["Not a valid string."]}}})
    as dotted field paths ({"image.url": "Not a valid string."})."""
    out: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            key = str(key)
            if key == "_schema":
                key = ""
            path = f"{prefix}.{key}" if prefix and key else (prefix or key)
            out.update(_flatten(value, path))
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            out[prefix] = " ".join(messages)
        else:
            for item in messages:
                out.update(_flatten(item, prefix))
    else:
        out[prefix] = str(messages)
    return out


def field_errors(exc: HTTPException) -> dict[str, str]:
    """Field errors carried by a webargs abort (HTTPException.data["messages"])."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if not messages:
        return {}
    # webargs keys errors by location first: {"json": {...}} / {"query": {...}}; the location
    # is not part of the field path, except for query parameters and headers, which are
    # named as such so that "limit" the parameter and "limit" a body field differ.
    flat: dict[str, str] = {}
    for location, errors in messages.items() if isinstance(messages, Mapping) else []:
        prefix = "" if location in ("json", "json_or_form", "files") else location
        flat.update(_flatten(errors, prefix))
    return flat


def error_response(exc: HTTPException) -> Response:
    """The JSON error body for an HTTPException raised anywhere under /api/."""
    status = exc.code or 500
    fields = field_errors(exc)
    message = exc.description or exc.name
    if fields:
        message = "; ".join(f"{k}: {v}" if k else v for k, v in fields.items())
    response = jsonify(
        error={
            "code": STATUS_CODES.get(status, exc.name.lower().replace(" ", "_")),
            "message": message,
            "fields": fields,
        }
    )
    response.status_code = status
    return response


def service_error(exc: ServiceError) -> Response:
    """A service's error (ValidationError, NotFound, Conflict) as an API error response."""
    status = 400
    if isinstance(exc, ValidationError):
        status = 422
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Conflict):
        status = 409
    response = jsonify(error={"code": exc.code, "message": exc.message, "fields": exc.fields})
    response.status_code = status
    return response


# --- the library, adapted ---------------------------------------------------------------------


class JsonBodyParser(FlaskParser):
    """webargs' Flask parser, strict about the body: a request body must be a JSON object
    (400 otherwise); schema violations are 422 (webargs' default)."""

    DEFAULT_VALIDATION_STATUS = 422
    # An unknown query parameter is an error too (a misspelt filter must not list everything).
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        if req.mimetype not in JSON_TYPES and not (req.mimetype or "").endswith("+json"):
            raise BadRequest("The request body must be JSON (Content-Type: application/json).")
        raw = req.get_data(cache=True)  # its depth is checked already (inputs.check_request)
        try:
            data = json.loads(raw, parse_constant=inputs.refuse_nonfinite)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        problems = inputs.json_problems(data)
        if problems:
            raise ValidationError(problems)
        return data


class Blueprint(_Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser, answering services' errors
    (ValidationError 422, NotFound 404, Conflict 409) as API errors."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_error_handler(ServiceError, service_error)


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Keep the app's one error handler (app.py → error_response) for every status."""

    def _register_doc_blueprint(self) -> None:
        """docs.py serves the document and the Swagger UI (public, local assets)."""


# --- request and response building blocks -----------------------------------------------------

# Characters the services' text cleaning (validation.text) drops or collapses: Python's
# whitespace (\s, which ECMA's \s differs from: \x1c-\x1f, \x85 in; \ufeff out), what XML
# forbids, and what plain text loses (C1 controls, U+FEFF, U+FFFD: feeds.text.plain_text).
# Spelt as literal characters, so the class reads the same in Python and ECMA-262.
_BLANK = (
    "\x00-\x20\x80-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    "\ufeff\ufffd\ufffe\uffff"
)
# A text the service requires: at least one character that survives its cleaning.
NOT_BLANK = f"[^{_BLANK}]"
# Every date-time the API reads or writes: RFC 3339 with a zone offset. The range is the input
# layer's (years 1900-9999 once the offset is applied); JSON Schema has no keyword for it.
DATE = {
    "format": "date-time",
    "description": "RFC 3339 with a zone offset (Z or ±hh:mm), years 1900-9999 after the offset",
}
# An absolute http(s) URL with a host (validation.http_url), as `format: uri` alone is not.
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[^/?#@\s]*@)?(?:[^/?#@:\[\]\s]+|\[[0-9A-Fa-f:.]+\])"
# Ids of 32-bit integer columns (every id the API takes in a path or a filter).
MAX_ID = 2**31 - 1
# A list cursor: the id the `next` link carries (at most 18 digits: below 2^63 on every engine).
CURSOR = "^[0-9]{1,18}$"


class Pattern(ma.validate.Validator):
    """A regular expression as JSON Schema reads `pattern` (a search, `^`/`$` anchors at the
    ends of the whole string), so that the document (apispec prints `regex.pattern`) and the
    check are one. (marshmallow's Regexp matches at the start only, and Python's `$` also
    matches before a final newline: "abc\\n" would pass `^abc$`.)"""

    def __init__(self, pattern: str, error: str | None = None) -> None:
        self.regex = re.compile(pattern)
        # ECMA's `$` (no multiline) is Python's `\Z`.
        self._check = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)
        self.error = error or "does not match the pattern {pattern}"

    def _repr_args(self) -> str:
        return f"pattern={self.regex.pattern!r}"

    def __call__(self, value: str) -> str:
        if self._check.search(value) is None:
            raise ma.ValidationError(self.error.format(pattern=self.regex.pattern))
        return value


def http_url(**kwargs: Any) -> ma.fields.String:
    """A string field holding an http(s) URL (at most 2048 characters). An IRI (non-ASCII host
    or path) is accepted and stored as given; feeds and pages print it as a URI."""
    metadata = {"format": "iri", **kwargs.pop("metadata", {})}
    return ma.fields.String(
        validate=[
            Pattern(HTTP_URL, "must be an absolute http or https URL"),
            ma.validate.Length(max=2048),
        ],
        metadata=metadata,
        **kwargs,
    )


def not_blank() -> Pattern:
    return Pattern(NOT_BLANK, "must not be empty")


def cursor_field() -> ma.fields.String:
    return ma.fields.String(
        validate=Pattern(CURSOR, "is not a cursor from a `next` link"),
        metadata={"description": "opaque: the `next` URL of the previous page carries it"},
    )


class Whole(ma.fields.Integer):
    """A JSON integer as JSON Schema has it: 3 and 3.0 (a number with no fraction), never "3"
    or true. Loads as an int."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class RawBody(ma.Schema):
    """A request body schema that checks shapes and types only, and hands the view the body
    as sent (integers as ints): the service (clean_story, clean_channel…) owns the rules and
    the cleaning, so there is one place that decides what a valid story is."""

    class Meta:
        unknown = ma.RAISE

    @ma.post_load(pass_original=True)
    def _original(self, data: dict, original: dict, **_: Any) -> dict:
        out = dict(original)
        for name, field in self.fields.items():
            if name in data and isinstance(field, Whole | ma.fields.Nested):
                out[name] = data[name]
        return out


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The list envelope: {"items": [...], "next": URL of the next page or null}."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "next": ma.fields.String(
                required=True,
                allow_none=True,
                metadata={
                    "format": "uri",
                    "description": "URL of the next page (same filters), null on the last",
                },
            ),
        },
        name=name,
    )


def cursor_id(cursor: str | None, kind: str = "bigint") -> int | None:
    """The row id in a list's `cursor` (the service puts one there), checked against its
    column (`kind`: "int" or "bigint", inputs.int_range) before it reaches SQL."""
    try:
        return inputs.row_id(cursor, kind, runtime().db.is_sqlite)
    except ValueError:
        raise ValidationError({"query.cursor": "is not a cursor from a `next` link"}) from None


def created(body: Any, location: str) -> tuple[Any, int, dict[str, str]]:
    return body, 201, {"Location": location}


def patch_schema(schema_class: type[ma.Schema]) -> ma.Schema:
    """The body of a PATCH: every top-level field optional, but a nested object that is sent
    is checked whole (marshmallow's partial=True would make `image: {}` pass without its url,
    which the document, naming one `…In` component for the nested object, says is required)."""
    return schema_class(partial=tuple(schema_class._declared_fields))

