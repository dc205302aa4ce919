"""What the delivery engine asks of each kind of subscriber: a transmitter (Superdesk's
publish/transmitters, Svix's worker pipeline).

The engine (push/engine.py) claims, leases, sends, records and retries, and knows no kinds. A
transmitter, one per kind ("webhook", "websub"), says three things and nothing else:

- `expand`: which deliveries a batch of outbox events makes for subscribers of its kind (the
  queue inserts them, push/queue.py);
- `prepare`: for deliveries just claimed, the request each one is (URL, body, headers), or why
  it must not be sent any more (then the engine cancels it with that reason);
- `finish`: the headers only known when the request leaves (a signature over the send time).

Transmitters register with the process's context (push/context.py) by their `kind`: no
`if kind == …` anywhere in the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.orm import Session

from syndication.models import Event


@dataclass
class Prepared:
    """The request of one claimed delivery, all but what `finish` adds at send time."""

    url: str
    body: bytes
    headers: dict[str, str]
    # The transmitter's own data for `finish` (the webhook secrets, say); the engine only
    # carries it.
    extra: Any = field(default=None, repr=False)


class Transmitter(Protocol):
    kind: str
    # The subscriber columns `prepare` reads of a claimed row (beside the delivery's id,
    # subscriber_id, event_id, message_id, attempts and next_attempt_at).
    columns: tuple[str, ...]

    def expand(self, session: Session, events: Sequence[Event], now: datetime) -> list[dict]:
        """The deliveries `events` make for subscribers of this kind, as rows of
        queue.delivery_row (leaving out those they already have)."""
        ...

    def prepare(
        self, session: Session, rows: Sequence[Row], now: datetime
    ) -> dict[int, Prepared | str]:
        """For claimed deliveries (rows of the delivery's columns and the subscriber's `columns`):
        by delivery id, its request, or a reason (str) to cancel it."""
        ...

    def finish(self, prepared: Prepared, message_id: str, now: datetime) -> dict[str, str]:
        """The request's headers as sent at `now` (signatures); ValueError when it cannot be
        sent (a stored header the HTTP client refuses, say): that attempt fails, alone."""
        ...
