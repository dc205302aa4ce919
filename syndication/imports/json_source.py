"""JSON (`[story, …]` or one `{story}`) and JSON Lines (one story per line).

Records pass through as given: the stories service owns validation, so this module only
checks what it must to find the records (syntax, one object per record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from syndication.imports.records import NOT_UTF8, Record, bad_utf8, failed


def parse_json(text: str, where: str, *, source: str | None = None) -> Iterator[Record]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield failed(f"{where}:{exc.lineno}", _syntax_error(exc))
        return
    except RecursionError:
        yield failed(where, "invalid JSON: nested too deeply")
        return

    if isinstance(document, dict):
        yield _story(document, f"{where}: record 1", source)
    elif isinstance(document, list):
        for number, item in enumerate(document, start=1):
            yield _story(item, f"{where}: record {number}", source)
    else:
        yield failed(
            where, f"expected an array of stories or one story object, got {_kind(document)}"
        )


def parse_jsonl(text: str, where: str, *, source: str | None = None) -> Iterator[Record]:
    # Split on "\n" only: str.splitlines() would also break on U+2028 and friends, which
    # JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        location = f"{where}:{number}"
        if bad_utf8(line):
            yield failed(location, NOT_UTF8)
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield failed(location, _syntax_error(exc, with_line=False))
            continue
        except RecursionError:
            yield failed(location, "invalid JSON: nested too deeply")
            continue
        yield _story(item, location, source)


def _story(item: Any, location: str, source: str | None) -> Record:
    if not isinstance(item, dict):
        return failed(location, f"expected a story object, got {_kind(item)}")
    data = dict(item)
    # JSON carries its own source; --source only fills the gap.
    if source and not data.get("source"):
        data["source"] = source
    return Record(location=location, data=data)


def _syntax_error(exc: json.JSONDecodeError, *, with_line: bool = True) -> str:
    where = f"line {exc.lineno}, column {exc.colno}" if with_line else f"column {exc.colno}"
    return f"invalid JSON at {where}: {exc.msg}"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
