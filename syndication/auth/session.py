"""Who is calling, and the web admin's signed session cookie and CSRF token.

- `current_principal()`: the Principal of this request (a bearer token or a signed-in user),
  or None. Views behind the guard can rely on it being set.
- `login_user(user)` / `logout_user()`: start or end a web admin session (the caller ends the
  user's sessions on the server first: users.end_sessions).
- `csrf_token()`: the session's CSRF token — a Jinja global, so every form carries
  `<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`; scripts send it as the
  `X-CSRF-Token` header. `check_csrf(value)` compares in constant time. The guard (access.py)
  calls it for every state-changing request under /admin and every one authenticated by the
  cookie, so views need not.

The session is Flask's signed cookie (itsdangerous, HMAC with `secret_key`). It holds the user
id, the user's session generation and the CSRF token; every request re-reads the user, so
disabling a user or changing its role takes effect at once. A signed cookie cannot be taken back,
so signing out adds one to the user's generation (users.end_sessions) and a cookie carrying an
older one is refused: a copy of the cookie dies with the session, on every worker and machine.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request, session

from syndication.auth.roles import allows
from syndication.auth.tokens import is_touch_due, lookup_token, mark_used
from syndication.config import Settings
from syndication.models import User

SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"
GENERATION_FIELD = "gen"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Principal:
    """Who is calling: kind "token" (an API token) or "user" (a signed-in web admin user)."""

    kind: str
    id: int
    name: str
    role: str
    # Role "partner": the partner whose subscribers it reaches (partners/service.py).
    partner_id: int | None = None

    def allows(self, role: str) -> bool:
        return allows(self.role, role)


@dataclass(frozen=True)
class Authentication:
    principal: Principal | None
    via: str | None  # "token", "session" or None
    problem: str | None = None  # "invalid_token" when a bearer credential was refused


def load_secret_key(settings: Settings) -> str:
    """The `secret_key` setting, or the key kept in <instance>/secret_key (made on first use).

    Every worker process reads the same file, so a cookie signed by one verifies in another.
    The file is written to a temporary name and linked into place: concurrent first starts
    agree on one key.
    """
    if settings.secret_key:
        return settings.secret_key
    folder = settings.instance_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        tmp = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: secret key shorter than 32 characters; delete the file")
    return key


def configure(app: Flask, settings: Settings) -> None:
    """Session cookie settings and template helpers (the guard is registered in create_app)."""
    app.secret_key = load_secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME="syndication_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_principal"] = current_principal


def _bearer() -> str | None:
    """The credential of an `Authorization` header ("" when the header is not Bearer)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credential = header.strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def authenticate() -> Authentication:
    """Authenticate this request once: a bearer token if an Authorization header is present
    (and then only it), otherwise the session cookie."""
    cached = g.get("_syndication_auth")
    if cached is not None:
        return cached
    from syndication.runtime import runtime

    rt = runtime()
    credential = _bearer()
    if credential is not None:
        now = rt.clock()
        with rt.db.read() as db_session:
            token = lookup_token(db_session, credential)
        if token is None:
            result = Authentication(None, None, "invalid_token")
        else:
            if is_touch_due(token, now):
                with rt.db.write() as db_session:
                    mark_used(db_session, token.id, now)
            result = Authentication(
                Principal("token", token.id, token.name, token.role, token.partner_id), "token"
            )
    elif "uid" in session:
        with rt.db.read() as db_session:
            user = db_session.get(User, session["uid"])
        if (
            user is None
            or user.disabled_at is not None
            or session.get(GENERATION_FIELD) != user.session_generation
        ):
            session.clear()
            result = Authentication(None, None)
        else:
            principal = Principal("user", user.id, user.username, user.role, user.partner_id)
            result = Authentication(principal, "session")
    else:
        result = Authentication(None, None)
    g._syndication_auth = result
    return result


def current_principal() -> Principal | None:
    """Who is calling (token or signed-in user), or None."""
    return authenticate().principal


def login_user(user: User) -> None:
    """Start a session for `user`: a fresh cookie (no session fixation) and CSRF token."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session[GENERATION_FIELD] = user.session_generation
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g._syndication_auth = Authentication(
        Principal("user", user.id, user.username, user.role, user.partner_id), "session"
    )


def logout_user() -> None:
    session.clear()
    g._syndication_auth = Authentication(None, None)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf(value: str | None) -> bool:
    """Whether `value` is this session's CSRF token (constant-time comparison)."""
    expected = session.get(CSRF_FIELD)
    if not expected or not value:
        return False
    return hmac.compare_digest(expected.encode(), value.encode())


def submitted_csrf() -> str | None:
    """The token a request carries: the X-CSRF-Token header or the csrf_token form field."""
    value = request.headers.get(CSRF_HEADER)
    if value:
        return value
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get(CSRF_FIELD)
    return None
