"""Web admin users: creation, listing, disabling, password sign-in and signing out.

Sign-in is limited by `signin_limiter` (per client address and username, plus per address);
the password is checked outside any transaction, so its CPU time (scrypt) holds no lock.
Unknown usernames cost and count like known ones (no enumeration through timing or limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndication.auth import signin_limiter
from syndication.auth.passwords import burn_time, hash_password, needs_rehash, verify_password
from syndication.auth.roles import ROLES
from syndication.db import Database
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.models import User
from syndication.partners.service import check_partner_for_role
from syndication.ratelimit import client_key

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,149}")
PASSWORD_MIN, PASSWORD_MAX = 8, 1024


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime,
    partner_id: int | None = None,
) -> User:
    """A new user; one with the partner role needs `partner_id` (and no other role has one)."""
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
    else:
        problems.update(check_partner_for_role(session, role, partner_id))
    if problems:
        raise ValidationError(problems)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", {"username": "already taken"})
    user = User(
        username=username,
        role=role,
        partner_id=partner_id,
        password_hash=hash_password(password),
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def any_user(session: Session) -> bool:
    """Whether any user exists (disabled ones count): until one does, nobody can sign in."""
    return session.scalar(select(User.id).limit(1)) is not None


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


def _find_user(session: Session, username: str) -> User | None:
    # Anything the pattern refuses cannot be a user; not asking the database also keeps text it
    # cannot store (NUL on PostgreSQL) away from it.
    if not USERNAME_RE.fullmatch(username):
        return None
    return session.scalar(select(User).where(User.username == username))


def verify_login(
    db: Database, username: str, password: str, address: str | None, now: datetime
) -> LoginResult:
    """Check a sign-in from client `address`: the attempt is counted first (committed), then the
    password checked, then a success recorded. Never raises for a bad sign-in."""
    username = normalize_username(username)
    keys = signin_limiter.keys_for(username, client_key(address))
    with db.write() as session:
        wait = signin_limiter.reserve(session, keys, now)
        user = _find_user(session, username) if wait is None else None
    if wait is not None:
        return LoginResult(None, "throttled", wait)
    if user is None:
        burn_time(password or "")
        return LoginResult(None, "invalid")
    if not verify_password(password or "", user.password_hash) or user.disabled_at is not None:
        return LoginResult(None, "invalid")  # the reserved attempt stays counted
    fresh_hash = hash_password(password) if needs_rehash(user.password_hash) else None
    with db.write() as session:
        user = session.get(User, user.id)
        if user is None or user.disabled_at is not None:  # deleted or disabled meanwhile
            return LoginResult(None, "invalid")
        signin_limiter.succeeded(session, keys)
        if fresh_hash is not None:
            user.password_hash = fresh_hash
        user.last_login_at = now
    return LoginResult(user)


def end_sessions(session: Session, user_id: int) -> None:
    """Sign `user_id` out everywhere: every session cookie issued so far stops working."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_generation=User.session_generation + 1)
    )
