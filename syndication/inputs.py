"""The input-cleaning layer: what every request must be before any view, fast path or query
sees it, checked once for the whole app so that no route can forget.

- Path: NUL, other control characters and bytes that are not UTF-8 (a lone surrogate sent as
  ED A0 80, say) -> 404; no route names anything like that.
- Query string: NUL or bytes that are not UTF-8 -> 400. Form bodies (urlencoded, and the text
  fields of multipart ones): NUL -> 400 (bytes that are not UTF-8 stay percent-encoded text
  there, harmless).
- JSON bodies: nested deeper than `json_max_depth` -> 400, checked on the raw bytes before any
  parser recurses; then, once parsed, NUL, lone surrogates (JSON's `\\ud800`), NaN/Infinity and
  integers outside +-2^53 (I-JSON, RFC 7493) in any key or value -> 422 naming the field.
- Integers in the path: beyond the range of the column they name, on this database -> 404.

Dates have their own rule (validation.aware_datetime) because they are parsed by field.

`InputGuard` is WSGI middleware, outside the fast paths; it hands a refused request to Flask
itself (skipping the fast paths) marked with why, and `refuse_marked` (the app's first
before_request hook) aborts with that status, so the app's one error handler shapes the answer
(JSON under /api/, HTML for people, text for feeds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import abort, request

REFUSED = "syndication.refused"

# Integer ranges of the id columns, by the name routes give them (<int:token_id>…):
# "int" is 32-bit on PostgreSQL and 64-bit on SQLite; "bigint" is 64-bit on both.
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_ID_COLUMNS = {
    "token_id": "int",  # api_tokens.id
    "subscriber_id": "int",  # subscribers.id
    "subscription_id": "int",  # subscribers.id (a WebSub subscription is a subscriber)
    "delivery_id": "bigint",  # deliveries.id
    "partner_id": "int",  # partners.id
}
JSON_SAFE_INT = 2**53  # integers a JSON client can hold exactly (I-JSON)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A JSON string, with its escapes, so that brackets inside strings are not counted.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def int_range(kind: str, is_sqlite: bool) -> tuple[int, int]:
    """What an integer column of `kind` ("int" or "bigint") holds on this database."""
    return INT64 if kind == "bigint" or is_sqlite else INT32


def in_range(value: int, kind: str, is_sqlite: bool) -> bool:
    low, high = int_range(kind, is_sqlite)
    return low <= value <= high


_ID_DIGITS = re.compile(r"[0-9]{1,19}")


def row_id(raw: str | None, kind: str, is_sqlite: bool) -> int | None:
    """A row id as a cursor or `?after=` carries it: ASCII digits within the range of the
    column (`kind`, see int_range); None when absent, ValueError when it cannot be one."""
    if raw is None:
        return None
    if not _ID_DIGITS.fullmatch(raw) or not in_range(int(raw), kind, is_sqlite):
        raise ValueError("is not a row id")
    return int(raw)


def text_problem(value: str) -> str | None:
    """Why a decoded string cannot be stored or compared in SQL, or None."""
    if "\x00" in value:
        return "must not contain NUL characters (U+0000)"
    match = _SURROGATE.search(value)
    if match:
        return f"must not contain a lone surrogate (U+{ord(match[0]):04X})"
    return None


def _bytes_problem(raw: bytes) -> str | None:
    if b"\x00" in raw:
        return "must not contain NUL characters (U+0000)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "must be UTF-8 (no lone surrogates or stray bytes)"
    return None


def path_problem(path_info: str) -> str | None:
    """Why a WSGI PATH_INFO (its bytes as latin-1) names nothing, or None."""
    raw = path_info.encode("latin-1", "replace")
    if _CONTROL.search(path_info):
        return "control characters in the path"
    return _bytes_problem(raw)


def urlencoded_problem(encoded: bytes) -> str | None:
    """Why a query string or form body (still percent-encoded) is refused, or None."""
    if not encoded:
        return None
    problem = _bytes_problem(unquote_to_bytes(encoded.replace(b"+", b" ")))
    return None if problem is None else f"parameters {problem}"


def json_too_deep(raw: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays/objects deeper than `limit`, read without parsing
    (so without recursion). Malformed text is the parser's business: this only counts."""
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match[0] in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_problems(value: Any, path: str = "") -> dict[str, str]:
    """Field path -> why, for every value of a parsed JSON document that no column or
    comparison can take. The document is already bounded in depth (json_too_deep)."""
    found: dict[str, str] = {}
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            found[path] = problem
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not -JSON_SAFE_INT <= value <= JSON_SAFE_INT:
            found[path] = "must be between -2^53 and 2^53"
    elif isinstance(value, float):
        if not math.isfinite(value):
            found[path] = "must be a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            key_problem = text_problem(key)
            child = f"{path}.{key}" if path else key
            if key_problem:
                found[path or ""] = f"a field name {key_problem}"
                continue
            found.update(json_problems(item, child))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.update(json_problems(item, f"{path}.{i}" if path else str(i)))
    return found


def refuse_nonfinite(name: str) -> Any:
    """json.loads parse_constant: NaN and Infinity are not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not a JSON number")


class InputGuard:
    """WSGI middleware: refuses a bad path (404) or query string (400) before the fast paths
    read them, by handing the request to Flask (`flask_app`, the bare app) marked REFUSED."""

    def __init__(self, app: Callable[..., Iterable[bytes]], flask_app: Callable[..., Any]):
        self.app = app
        self.flask_app = flask_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        problem = path_problem(environ.get("PATH_INFO", ""))
        if problem:
            environ[REFUSED] = (404, f"Nothing here: {problem}.")
            return self.flask_app(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        problem = urlencoded_problem(query.encode("latin-1", "replace"))
        if problem:
            environ[REFUSED] = (400, f"The query string {problem}.")
            return self.flask_app(environ, start_response)
        return self.app(environ, start_response)


def check_request(is_sqlite: bool) -> None:
    """The Flask half of the layer, run before every view and before the access guard (a
    malformed request is told so whoever sends it): what InputGuard marked, and the integers
    in the path."""
    refused = request.environ.get(REFUSED)
    if refused:
        abort(*refused)
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not in_range(
            value, _ID_COLUMNS.get(name, "bigint"), is_sqlite
        ):
            abort(404, f"Nothing here: {name} {value} is out of range.")


def check_body(json_max_depth: int) -> None:
    """The body, after the access guard: a stranger's body is not read at all (401 first)."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    mimetype = request.mimetype or ""
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Read and cached first, so that a view reading the raw body (/hub) still has it; if
        # the guard already parsed the form (its CSRF token) the parsed form is what counts.
        # Bytes that are not UTF-8 stay percent-encoded text there; a NUL does not. (A
        # multipart body is left to the form parser: its files are spooled, not held here;
        # its text fields get the same check, its files are the views' business.)
        if mimetype != "multipart/form-data":
            request.get_data(cache=True)
        for key, values in request.form.lists():
            for text in (key, *values):
                problem = text_problem(text)
                if problem:
                    abort(400, f"The form field {key[:40]!r} {problem}.")
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        if json_too_deep(request.get_data(cache=True), json_max_depth):
            abort(400, f"The JSON body is nested deeper than {json_max_depth} levels.")
