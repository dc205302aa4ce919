"""`Idempotency-Key` on POST: the first successful answer is kept for 24 hours, per caller and
key, and sent again (status, Location, body) instead of doing the work twice.

- The same key with a different request (method, path or body) → 422, nothing done.
- The same key while the first request is still running → 409; try again shortly.
- An empty key (or one longer than 255 characters) → 400, nothing done.
- An error answer (4xx, 5xx) is not kept: the key is released, so the caller can fix the
  request and send it again with the same key.
- An answer that holds a secret is kept without it (`idempotent_redacted`): the replay says the
  secret was withheld and how to get a new one. No secret is at rest in this table.

The key is claimed (a row with no status) in its own transaction before the view runs, so two
concurrent requests with one key cannot both create; the unique index on (principal, key)
decides the race on every engine. The claim and the work commit separately: should the process
die between them, the claim would stay "in progress" for good. So a claim older than
`idempotency_claim_timeout` is presumed dead and a retry takes it over (a new claim, new id: the
first request, should it answer after all, finds no claim of its own to store its answer in:
a claim is its id *and* its creation time, as SQLite may give a new row a deleted row's id).
The work may then have been done twice, if the process died after the work committed and
before the answer was kept; that window is one short transaction.

`idempotent` marks the view it returns (`is_idempotent`); the OpenAPI document (docs.py)
advertises the header on exactly the operations whose view carries the mark.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, make_response, request
from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException

from syndication.api.common import error_response, service_error
from syndication.auth.session import current_principal
from syndication.errors import Conflict, ServiceError, ValidationError
from syndication.models import IdempotencyKey
from syndication.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])
Redact = Callable[[dict[str, Any]], dict[str, Any]]
HEADER = "Idempotency-Key"
FIELD = f"header.{HEADER}"
LIFETIME = timedelta(hours=24)
KEPT_HEADERS = ("Location", "Content-Type")
MARKER = "_syndication_idempotent"
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    # Blanks around the key are not part of it: one of only blanks is empty (400).
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    "description": "Any unique string (a UUID, say). The first successful answer to a request "
    "with this key is kept for 24 hours and returned again, instead of creating twice; a "
    "secret in it (a webhook secret) is not kept: the replay has `secret: null` and says how "
    "to rotate it. The same key with a different body is refused with 422; while the first "
    "request is under way, 409 (for at most `idempotency_claim_timeout` seconds, after which "
    "a retry takes the key over). An empty key is refused with 400.",
}


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What identifies a request for its key: SHA-256 of method, path and body."""
    digest = hashlib.sha256()
    digest.update(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _bad_key(message: str) -> Response:
    exc = BadRequest(message)
    exc.data = {"messages": {"header": {HEADER: [message]}}}
    return error_response(exc)


def _in_progress(key: str) -> Conflict:
    return Conflict(
        f"a request with {HEADER} {key!r} is still being processed; try again shortly",
        {FIELD: "in use by a request under way"},
    )


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.body or "", status=row.status or 200)
    for key, value in (row.headers or {}).items():
        response.headers[key] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _kept_body(response: Response, redact: Redact | None) -> str:
    body = response.get_data(as_text=True)
    if redact is None:
        return body
    # Written as the app writes any JSON answer, so a replay looks like one.
    return current_app.json.response(redact(json.loads(body))).get_data(as_text=True)


def _mine(claim: tuple[int, datetime]) -> ColumnElement[bool]:
    """The row of this request's claim, still unanswered; none once another request has
    taken the key over."""
    return and_(
        IdempotencyKey.id == claim[0],
        IdempotencyKey.created_at == claim[1],
        IdempotencyKey.status.is_(None),
    )


def _release(claim: tuple[int, datetime]) -> None:
    with runtime().db.write() as session:
        session.execute(delete(IdempotencyKey).where(_mine(claim)))


def is_idempotent(view: Any) -> bool:
    """Whether `view` (a view function as the app holds it) honours `Idempotency-Key`."""
    return getattr(view, MARKER, False) is True


def idempotent(view: F) -> F:
    """Decorate a POST view (outside its flask-smorest decorators, so it sees the finished
    response; under `@requires`). The answer is kept as sent for 24 hours: a view whose answer
    holds a secret takes `idempotent_redacted` instead."""
    return _idempotent(view, None)


def idempotent_redacted(redact: Redact) -> Callable[[F], F]:
    """`idempotent`, keeping `redact(answer)` instead of the JSON answer itself: the secrets it
    holds are left out (and the replay should say how to get new ones)."""
    return lambda view: _idempotent(view, redact)


def _idempotent(view: F, redact: Redact | None) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        key = key.strip()
        if not 1 <= len(key) <= 255:
            return _bad_key(f"must be 1 to 255 characters, got {len(key)}")
        principal = current_principal()
        who = f"{principal.kind}:{principal.id}" if principal else "anonymous"
        request_fingerprint = fingerprint(
            request.method, request.path, request.get_data(cache=True)
        )
        rt = runtime()
        now = rt.clock()
        claim_timeout = timedelta(seconds=rt.settings.idempotency_claim_timeout)
        try:
            with rt.db.write() as session:
                row = session.scalar(
                    select(IdempotencyKey).where(
                        IdempotencyKey.principal == who, IdempotencyKey.key == key
                    )
                )
                if row is not None and row.expires_at > now:
                    if row.fingerprint != request_fingerprint:
                        raise ValidationError(
                            {FIELD: "was already used for a different request"},
                            f"{HEADER} {key!r} was already used with a different request "
                            "(method, path or body); use a new key for a new request",
                        )
                    if row.status is not None:
                        return _replay(row)
                    if row.created_at + claim_timeout > now:
                        raise _in_progress(key)
                    # Unanswered for longer than any request takes: its request died. Taken
                    # over by a new claim. Without the ORM's row count check: a concurrent
                    # taker may have deleted it first, and then loses on the unique index
                    # below (409).
                    session.execute(delete(IdempotencyKey).where(_mine((row.id, row.created_at))))
                if row is not None:
                    # Deleted here one way or the other; its id may be handed out again.
                    session.expunge(row)
                # Expired keys (this one included) go; the index on expires_at keeps it cheap.
                session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
                claim = IdempotencyKey(
                    principal=who,
                    key=key,
                    fingerprint=request_fingerprint,
                    created_at=now,
                    expires_at=now + LIFETIME,
                )
                session.add(claim)
                session.flush()
                mine = (claim.id, now)
        except IntegrityError:
            return service_error(_in_progress(key))
        except ServiceError as exc:
            return service_error(exc)

        try:
            response = make_response(view(*args, **kwargs))
        except ServiceError as exc:
            _release(mine)
            return service_error(exc)
        except HTTPException as exc:
            _release(mine)
            return error_response(exc)
        except BaseException:
            _release(mine)
            raise
        if not 200 <= response.status_code < 300:
            _release(mine)
            return response
        with rt.db.write() as session:
            session.execute(
                update(IdempotencyKey)
                .where(_mine(mine))
                .values(
                    status=response.status_code,
                    headers={h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
                    body=_kept_body(response, redact),
                )
            )
        return response

    setattr(wrapper, MARKER, True)
    return wrapper  # type: ignore[return-value]
