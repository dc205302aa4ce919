"""Web admin users: creation, listing, disabling, and password sign-in with rate limiting.

Rate limiting: every failed sign-in is stored twice in `login_failures`, under the username and
under the client address, so that all worker processes share the count. A key with too many
failures in the window is refused — without checking the password — until a backoff that
doubles with each further failure has passed. Unknown usernames count like known ones (no
enumeration through the limiter either). A successful sign-in clears the failures of the user,
not those of the address: otherwise one valid account would reset the limit for guesses at
every other account from the same address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from syndication.auth.passwords import burn_time, hash_password, needs_rehash, verify_password
from syndication.auth.roles import ROLES
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.models import LoginFailure, User

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,149}")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024

WINDOW = timedelta(minutes=15)  # failures older than this no longer count
USER_LIMIT = 5  # failures per username within WINDOW before sign-ins are refused
# Per address: higher, since an office or a mobile network puts many people behind one address.
ADDRESS_LIMIT = 20
BACKOFF_FIRST = timedelta(minutes=1)  # first refusal window; doubles with each more failure
BACKOFF_MAX = timedelta(minutes=15)
KEEP = timedelta(days=1)  # failures are pruned after this


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def create_user(session: Session, username: str, password: str, role: str, now: datetime) -> User:
    username = normalize_username(username)
    problems = {}
    if not USERNAME_RE.fullmatch(username):
        problems["username"] = (
            "must be 1 to 150 letters, digits, '.', '_', '@' or '-', starting with a letter "
            "or digit"
        )
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        problems["password"] = f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    if problems:
        raise ValidationError(problems)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", {"username": "already taken"})
    user = User(username=username, role=role, password_hash=hash_password(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == normalize_username(username)))
    if user is None:
        raise NotFound(f"no user {normalize_username(username)!r}")
    return user


def set_disabled(session: Session, username: str, disabled: bool, now: datetime) -> User:
    """Disable (or enable) a user; a disabled user cannot sign in and loses open sessions."""
    user = get_user(session, username)
    if disabled and user.disabled_at is None:
        user.disabled_at = now
    elif not disabled:
        user.disabled_at = None
    return user


@dataclass(frozen=True)
class LoginResult:
    """`user` on success; otherwise `error` ("invalid" or "throttled") and, when throttled,
    `retry_after` seconds."""

    user: User | None
    error: str | None = None
    retry_after: int = 0

    @property
    def ok(self) -> bool:
        return self.user is not None


def _locked_until(session: Session, kind: str, key: str, limit: int, now: datetime):
    count, last = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.kind == kind, LoginFailure.key == key, LoginFailure.at > now - WINDOW
        )
    ).one()
    if count < limit or last is None:
        return None
    backoff = min(BACKOFF_FIRST * 2 ** (count - limit), BACKOFF_MAX)
    until = last + backoff
    return until if until > now else None


def throttled_until(session: Session, username: str, address: str, now: datetime):
    """When sign-ins for this username or from this address are allowed again (None = now)."""
    username = normalize_username(username)[:255]
    locks = [
        _locked_until(session, "user", username, USER_LIMIT, now),
        _locked_until(session, "address", (address or "")[:255], ADDRESS_LIMIT, now),
    ]
    return max((t for t in locks if t is not None), default=None)


def verify_login(
    session: Session, username: str, password: str, address: str, now: datetime
) -> LoginResult:
    """Check a sign-in (needs a write session: failures are recorded, successes clear them).

    Never raises for a bad sign-in, so that the caller's transaction commits the failure.
    """
    username = normalize_username(username)
    address = (address or "unknown")[:255]
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - KEEP))
    until = throttled_until(session, username, address, now)
    if until is not None:
        seconds = max(1, int((until - now).total_seconds() + 0.999))
        return LoginResult(None, "throttled", seconds)
    user = session.scalar(select(User).where(User.username == username)) if username else None
    if user is None:
        burn_time(password or "")
        valid = False
    else:
        valid = verify_password(password or "", user.password_hash)
    if not valid or user is None or user.disabled_at is not None:
        session.add(LoginFailure(kind="user", key=username[:255], at=now))
        session.add(LoginFailure(kind="address", key=address, at=now))
        return LoginResult(None, "invalid")
    session.execute(
        delete(LoginFailure).where(LoginFailure.kind == "user", LoginFailure.key == username)
    )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return LoginResult(user)
