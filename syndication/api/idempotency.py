"""`Idempotency-Key` on POST: the first successful answer is kept for 24 hours, per caller and
key, and sent again (status, Location, body) instead of doing the work twice.

- The same key with a different request (method, path or body) → 422, nothing done.
- The same key while the first request is still running → 409; try again shortly.
- An error answer (4xx, 5xx) is not kept: the key is released, so the caller can fix the
  request and send it again with the same key.

The key is claimed (a row with no status) in its own transaction before the view runs, so two
concurrent requests with one key cannot both create; the unique index on (principal, key)
decides the race on every engine. The claim and the work commit separately: should the process
die between them, the key answers 409 until it expires.

`idempotent` marks the view it returns (`is_idempotent`); the OpenAPI document (docs.py)
advertises the header on exactly the operations whose view carries the mark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, make_response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException

from syndication.api.common import error_response, service_error
from syndication.auth.session import current_principal
from syndication.errors import Conflict, ServiceError, ValidationError
from syndication.models import IdempotencyKey
from syndication.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
KEPT_HEADERS = ("Location", "Content-Type")
MARKER = "_syndication_idempotent"
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Any unique string (a UUID, say). The first successful answer to a request "
    "with this key is kept for 24 hours and returned again, instead of creating twice. The "
    "same key with a different body is refused with 422.",
}


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.body or "", status=row.status or 200)
    for key, value in (row.headers or {}).items():
        response.headers[key] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _release(row_id: int) -> None:
    with runtime().db.write() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


def is_idempotent(view: Any) -> bool:
    """Whether `view` (a view function as the app holds it) honours `Idempotency-Key`."""
    return getattr(view, MARKER, False) is True


def idempotent(view: F) -> F:
    """Decorate a POST view (outside its flask-smorest decorators, so it sees the finished
    response; under `@requires`). The answer is kept as sent, so it holds whatever the view
    returns (a subscriber's signing secret, say) for 24 hours: do not decorate a view whose
    answer carries something stored nowhere else (API token values are only ever hashed)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        key = key.strip()
        if not 1 <= len(key) <= 255:
            raise BadRequest(f"{HEADER} must be 1 to 255 characters.")
        principal = current_principal()
        who = f"{principal.kind}:{principal.id}" if principal else "anonymous"
        fingerprint = _fingerprint()
        rt = runtime()
        now = rt.clock()
        try:
            with rt.db.write() as session:
                row = session.scalar(
                    select(IdempotencyKey).where(
                        IdempotencyKey.principal == who, IdempotencyKey.key == key
                    )
                )
                if row is not None and row.expires_at > now:
                    if row.fingerprint != fingerprint:
                        raise ValidationError(
                            {f"header.{HEADER}": "was already used for a different request"},
                            f"{HEADER} {key!r} was already used with a different request "
                            "(method, path or body); use a new key for a new request",
                        )
                    if row.status is None:
                        raise Conflict(
                            f"a request with {HEADER} {key!r} is still being processed; "
                            "try again shortly",
                            {f"header.{HEADER}": "in use by a request under way"},
                        )
                    return _replay(row)
                # Expired keys (this one included) go; the index on expires_at keeps it cheap.
                session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
                claim = IdempotencyKey(
                    principal=who,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + LIFETIME,
                )
                session.add(claim)
                session.flush()
                claim_id = claim.id
        except IntegrityError:
            raise Conflict(
                f"a request with {HEADER} {key!r} is still being processed; try again shortly",
                {f"header.{HEADER}": "in use by a request under way"},
            ) from None
        except ServiceError as exc:
            return service_error(exc)

        try:
            response = make_response(view(*args, **kwargs))
        except ServiceError as exc:
            _release(claim_id)
            return service_error(exc)
        except HTTPException as exc:
            _release(claim_id)
            return error_response(exc)
        except BaseException:
            _release(claim_id)
            raise
        if not 200 <= response.status_code < 300:
            _release(claim_id)
            return response
        with rt.db.write() as session:
            row = session.get(IdempotencyKey, claim_id)
            if row is not None:
                row.status = response.status_code
                row.headers = {
                    h: response.headers[h] for h in KEPT_HEADERS if h in response.headers
                }
                row.body = response.get_data(as_text=True)
        return response

    setattr(wrapper, MARKER, True)
    return wrapper  # type: ignore[return-value]
