"""Schemathesis hooks shared by tests/test_api_schemathesis.py and the by-hand CLI run of the
README (`SCHEMATHESIS_HOOKS=tests.schemathesis_hooks st run …`)."""

from __future__ import annotations

import hashlib

import schemathesis

from syndication.api.idempotency import HEADER as IDEMPOTENCY_KEY


def fresh_idempotency_key(case) -> None:
    """An Idempotency-Key the document accepts, made unique to the request it comes with.

    A generator repeats its values ("0") across different requests, and the service rightly
    answers a key reused with another request 422; the key names the request instead, so each
    request is a first or an exact retry (answered again), as a client would send them. Keys
    the document refuses (empty, blank, too long) are sent as drawn, for the negative checks."""
    headers = case.headers or {}
    key = headers.get(IDEMPOTENCY_KEY)
    if not isinstance(key, str) or not key.strip() or key != key.strip() or len(key) > 255:
        return
    digest = hashlib.sha256(
        repr((case.method, case.formatted_path, case.query, case.body, key)).encode()
    ).hexdigest()
    headers[IDEMPOTENCY_KEY] = digest[:64]


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:  # noqa: ANN001 - schemathesis' hook signature
    fresh_idempotency_key(case)
