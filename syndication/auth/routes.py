"""GET/POST /admin/login and POST /admin/logout (CSRF is checked by the guard)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from syndication.auth.access import public
from syndication.auth.session import login_user, logout_user
from syndication.auth.users import verify_login
from syndication.pages import view
from syndication.runtime import runtime

bp = Blueprint("auth", __name__)
HOME = "/admin/"


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


def _form(status: int = 200, error: str | None = None, **headers: str) -> Response:
    settings = runtime().settings
    body = render_template(
        "admin/login.html",
        settings=settings,
        site=view.site_name(settings),
        lang="en",
        page_title="Sign in",
        username=request.form.get("username", ""),
        next=_safe_next(request.values.get("next")),
        error=error,
    )
    response = Response(body, status=status, mimetype="text/html", headers=headers)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/admin/login", methods=["GET", "POST"])
@public
def login() -> Response:
    if request.method == "GET":
        return _form()
    rt = runtime()
    with rt.db.write() as session:
        result = verify_login(
            session,
            request.form.get("username", ""),
            request.form.get("password", ""),
            request.remote_addr or "unknown",
            rt.clock(),
        )
        if result.user is not None:
            login_user(result.user)
    if result.error == "throttled":
        minutes = (result.retry_after + 59) // 60
        return _form(
            429,
            "Too many failed sign-ins. Wait "
            + ("a minute" if minutes <= 1 else f"{minutes} minutes")
            + " and try again.",
            **{"Retry-After": str(result.retry_after)},
        )
    if result.error:
        return _form(422, "Wrong username or password.")
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.post("/admin/logout")
@public  # anyone may end their own session; the guard still requires the CSRF token
def logout() -> Response:
    logout_user()
    return redirect("/admin/login", 303)
