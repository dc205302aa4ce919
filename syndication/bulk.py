"""Many rows in one statement, on both engines, with one parameter: a JSON array of the rows.

The delivery engine writes hundreds of rows per transaction (new deliveries, their results,
the attempt log). Through executemany every value goes through SQLAlchemy's type processing
and the driver's adaptation in Python, and PostgreSQL arrays are dumped element by element in
Python too: that was most of the engine's CPU under load. Here the rows are serialised once
(`json.dumps`, in C) and the database unpacks them (`jsonb_to_recordset` on PostgreSQL,
`json_each` on SQLite), so the Python work per row is building one small dict.

Values are written as the columns' own types store them (UTCDateTime: aware UTC on
PostgreSQL, the naive UTC text SQLite compares on), so what a bulk statement writes reads back
exactly as if the ORM had written it. Only scalar columns (integers, floats, text, booleans,
UTCDateTime) are supported; anything else raises TypeError when the statement is built.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Table, Text, cast, text
from sqlalchemy.orm import Session

from syndication.models import UTCDateTime


def _pg_type(column: Any) -> str:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "timestamptz"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Float):
        return "double precision"
    if isinstance(kind, String | Text):
        return "text"
    raise TypeError(f"bulk statements do not handle column {column.name} of type {kind!r}")


def _sqlite_value(name: str) -> str:
    return f"json_extract(value, '$.{name}')"


@functools.lru_cache(maxsize=64)
def _statement(
    dialect: str, table: Table, action: str, columns: tuple[str, ...], ignore: bool = False
) -> str:
    for name in columns:
        _pg_type(table.c[name])  # refuses what it cannot carry, on either engine
    if dialect == "postgresql":
        spec = ", ".join(f'"{name}" {_pg_type(table.c[name])}' for name in columns)
        rows = f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({spec})"
        if action == "insert":
            names = ", ".join(f'"{name}"' for name in columns)
            skip = " ON CONFLICT DO NOTHING" if ignore else ""
            return f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM {rows}{skip}'
        sets = ", ".join(f'"{name}" = v."{name}"' for name in columns if name != "id")
        return f'UPDATE "{table.name}" SET {sets} FROM {rows} WHERE "{table.name}".id = v.id'
    if action == "insert":
        names = ", ".join(f'"{name}"' for name in columns)
        values = ", ".join(_sqlite_value(name) for name in columns)
        # "WHERE true": SQLite's upsert after a SELECT needs it to read ON CONFLICT right.
        skip = " WHERE true ON CONFLICT DO NOTHING" if ignore else ""
        return f'INSERT INTO "{table.name}" ({names}) SELECT {values} FROM json_each(:rows){skip}'
    sets = ", ".join(f'"{name}" = {_sqlite_value(name)}' for name in columns if name != "id")
    return (
        f'UPDATE "{table.name}" SET {sets} FROM json_each(:rows) '
        f'WHERE "{table.name}".id = {_sqlite_value("id")}'
    )


def _encoder(dialect: str) -> json.JSONEncoder:
    def default(value: object) -> object:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a bulk statement")
            value = value.astimezone(UTC)
            if dialect == "postgresql":
                return value.isoformat()
            # SQLAlchemy's SQLite DATETIME text (microseconds always): text order is time order.
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        raise TypeError(f"cannot write {type(value).__name__} in a bulk statement")

    return json.JSONEncoder(default=default, ensure_ascii=False, separators=(",", ":"))


_ENCODERS = {name: _encoder(name) for name in ("postgresql", "sqlite")}


def encode_rows(session: Session, rows: Sequence[dict[str, Any]]) -> str:
    """`rows` as the JSON array parameter of a bulk statement written by hand (values as the
    columns store them, as for insert_rows / update_rows)."""
    return _ENCODERS[session.get_bind().dialect.name].encode(rows)


def _run(
    session: Session,
    table: Table,
    action: str,
    rows: Sequence[dict[str, Any]],
    columns: Iterable[str],
    ignore: bool = False,
) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    names = tuple(columns)
    payload = _ENCODERS[dialect].encode([{k: row[k] for k in names} for row in rows])
    statement = _statement(dialect, table, action, names, ignore)
    session.execute(text(statement), {"rows": payload})


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT `rows` (dicts with the same keys) into `table`, in one statement; with
    `ignore_conflicts`, rows that would break a unique index are left out."""
    if rows:
        _run(session, table, "insert", rows, rows[0].keys(), ignore_conflicts)


def update_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE `table` rows by `id`: each dict holds "id" and the same columns to set."""
    if rows:
        _run(session, table, "update", rows, rows[0].keys())


def as_text(column: Any) -> Any:
    """A JSON column read as its text (for `JsonMemo`): the drivers' own JSON decoding costs
    a `json.loads` per row, and a fan-out reads the same few documents ("{}", "[]") thousands
    of times."""
    return cast(column, Text).label(column.name)


class JsonMemo:
    """JSON texts decoded once each (bounded). The values are shared: never mutate them."""

    def __init__(self, size: int = 4096) -> None:
        self._values: dict[str | None, Any] = {None: None}
        self._size = size

    def __call__(self, raw: str | None) -> Any:
        try:
            return self._values[raw]
        except KeyError:
            pass
        value = json.loads(raw)  # type: ignore[arg-type]
        if len(self._values) >= self._size:
            self._values = {None: None}
        self._values[raw] = value
        return value
