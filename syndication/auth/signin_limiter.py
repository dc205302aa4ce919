"""How many password checks a sign-in may cost: failed attempts counted per key, shared by
every worker process through the `login_attempts` table.

Two keys per attempt:

- the client address and the username together: USER_LIMIT attempts, then refused. Keyed by
  the pair, not by the username alone, so that a stranger guessing at a user's password locks
  out only themselves, never the user signing in from anywhere else;
- the client address alone: ADDRESS_LIMIT attempts across all usernames (higher, since an
  office or a mobile network puts many people behind one address), so that one address cannot
  spray guesses over many accounts.

Addresses are counted as `ratelimit.client_key` counts them (an IPv6 /64 as one), so a client
cannot step around the limit by picking a new address out of its own prefix.

Exact under concurrency: an attempt is *reserved* — counted, in a short transaction that locks
the key rows (`SELECT … FOR UPDATE` on PostgreSQL, the database lock that every SQLite write
transaction takes up front) — before the password is checked, and the check runs after that
transaction has committed. So N concurrent attempts get N distinct counts and at most the limit
of them reach the (slow, scrypt) check, and no lock is held while it runs. A successful sign-in
gives back what it reserved: the pair's count is cleared, the address's lowered by one.

Once a key reaches its limit it is locked for BACKOFF_FIRST after that attempt; each further
attempt allowed after a lock doubles the lock (up to BACKOFF_MAX). A key with no attempt for
WINDOW starts again from zero. Refused attempts are not counted: waiting out the lock is all
it takes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndication.db import Database
from syndication.models import LoginAttempt

USER_LIMIT = 5  # attempts per client address and username
ADDRESS_LIMIT = 20  # attempts per client address, all usernames together
WINDOW = timedelta(minutes=15)  # a key with no attempt for this long starts again from zero
BACKOFF_FIRST = timedelta(minutes=1)  # lock after reaching a limit; doubles with each more
BACKOFF_MAX = timedelta(minutes=15)
KEEP = timedelta(days=1)  # rows untouched for this long are deleted (`prune`)


@dataclass(frozen=True)
class Key:
    """One counter: its hashed name and the attempts it allows."""

    name: str
    limit: int


def _hash(*parts: str) -> str:
    # NUL cannot occur in a form field's text, so the parts cannot run into one another.
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def keys_for(username: str, address: str) -> list[Key]:
    """The counters an attempt by `username` from `address` (a client key) is counted in."""
    return [
        Key(_hash("pair", address, username), USER_LIMIT),
        Key(_hash("address", address), ADDRESS_LIMIT),
    ]


def _backoff(over: int) -> timedelta:
    """The lock after the attempt that is `over` past the limit (0: the limit-th attempt)."""
    return min(BACKOFF_FIRST * 2 ** min(over, 32), BACKOFF_MAX)


def reserve(session: Session, keys: list[Key], now: datetime) -> int | None:
    """Count one attempt in every key, or in none when one is locked.

    Returns None when the attempt may go on to the password check, else the whole seconds until
    the last lock ends (for Retry-After). Call it in a transaction of its own and commit before
    checking the password: the rows stay locked until the commit.
    """
    names = sorted(key.name for key in keys)  # one lock order everywhere: no deadlocks
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(LoginAttempt)
        .values([{"key": name, "attempts": 0, "last_at": now} for name in names])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = {
        row.key: row
        for row in session.scalars(
            select(LoginAttempt)
            .where(LoginAttempt.key.in_(names))
            .order_by(LoginAttempt.key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    locks = [r.locked_until for r in rows.values() if r.locked_until and r.locked_until > now]
    if locks:
        return max(1, math.ceil((max(locks) - now).total_seconds()))
    for key in keys:
        row = rows[key.name]
        if row.last_at <= now - WINDOW:
            row.attempts = 0
        row.attempts += 1
        row.last_at = now
        if row.attempts >= key.limit:
            row.locked_until = now + _backoff(row.attempts - key.limit)
    return None


def succeeded(session: Session, keys: list[Key]) -> None:
    """Give back a successful attempt: the pair starts again from zero, the address count
    loses this attempt (its lock, if any, stays: it was earned by other attempts)."""
    pair, address = keys
    row = session.get(LoginAttempt, pair.name, with_for_update=True)
    if row is not None:
        row.attempts = 0
        row.locked_until = None
    row = session.get(LoginAttempt, address.name, with_for_update=True)
    if row is not None and row.attempts > 0:
        row.attempts -= 1


def prune(db: Database, now: datetime) -> int:
    """Delete counters untouched for KEEP and no longer locked; returns how many."""
    with db.write() as session:
        result = session.execute(
            delete(LoginAttempt).where(
                LoginAttempt.last_at < now - KEEP,
                or_(LoginAttempt.locked_until.is_(None), LoginAttempt.locked_until < now),
            )
        )
        return result.rowcount or 0
