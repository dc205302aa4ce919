"""GET/POST /admin/login and POST /admin/logout (CSRF is checked by the guard)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from syndication.auth.access import public
from syndication.auth.next_path import PORTAL_HOME, safe_next
from syndication.auth.roles import PARTNER
from syndication.auth.session import current_principal, login_user, logout_user
from syndication.auth.users import any_user, end_sessions, verify_login
from syndication.command import first_admin_command
from syndication.pages import view
from syndication.runtime import runtime

bp = Blueprint("auth", __name__)


def _form(status: int = 200, error: str | None = None, **headers: str) -> Response:
    rt = runtime()
    settings = rt.settings
    with rt.db.read() as session:
        # Until the first user exists nobody can sign in: say how to create one.
        first_admin = None if any_user(session) else first_admin_command()
    body = render_template(
        "admin/login.html",
        settings=settings,
        site=view.site_name(settings),
        lang="en",
        page_title="Sign in",
        username=request.form.get("username", ""),
        next=safe_next(request.values.get("next")),
        error=error,
        first_admin=first_admin,
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
    result = verify_login(
        rt.db,
        request.form.get("username", ""),
        request.form.get("password", ""),
        request.remote_addr,
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
    if result.user is not None and result.user.role == PARTNER:
        # A partner's people have the portal and nothing else: a `next` elsewhere (the admin's
        # dashboard, the default) would only show them a 403.
        target = safe_next(request.form.get("next"), PORTAL_HOME)
        return redirect(target if target.startswith(PORTAL_HOME) else PORTAL_HOME, 303)
    return redirect(safe_next(request.form.get("next")), 303)


@bp.post("/admin/logout")
@public  # anyone may end their own session; the guard still requires the CSRF token
def logout() -> Response:
    principal = current_principal()
    if principal is not None and principal.kind == "user":
        with runtime().db.write() as session:
            end_sessions(session, principal.id)
    logout_user()
    return redirect("/admin/login", 303)
