"""CSV documents for download (RFC 4180: comma-separated, CRLF line ends, fields quoted when
they hold a comma, a quote or a line break), safe to open in a spreadsheet.

A text cell that begins with = + - @ (or a tab or carriage return) is a formula to Excel,
LibreOffice and Google Sheets, and a reader name or channel title comes from outside: such a
cell gets a leading apostrophe, which spreadsheets read as "this is text" (OWASP's advice on CSV
injection). Numbers are written as they are, negative ones included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def csv_response(rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A download of `rows` (the header row first) as `filename`."""
    return Response(
        to_csv(rows),
        content_type=CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
