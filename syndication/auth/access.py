"""Who may call which view, and the one guard that enforces it before any view runs.

Declare access on each view function (under the route decorator):

    @bp.get("/feeds.opml")
    @public
    def opml(): ...

    @bp.route("/api/v1/stories", methods=["GET", "POST"])
    @requires(read="reader", write="editor")   # GET/HEAD/OPTIONS need reader, others editor
    def stories(): ...

    @requires("editor")                         # every method needs editor
    @requires(read="reader")                    # reads need reader; writes stay admin-only

A view with neither decorator is ADMIN-only: a forgotten decorator locks a route down, never
opens it. For views you do not write yourself (a library's routes, Flask's `static`), declare
by endpoint name: `declare(app, "api-docs.openapi_json", PUBLIC)`. Class-based views
(MethodView, flask-smorest) may put the decorator on the class or on each method handler.

The guard (`guard`, registered once in create_app as the first before_request hook) answers,
before the view parses anything: 401 without valid credentials (API: JSON and
`WWW-Authenticate: Bearer`; other paths, /admin and the partner portal /portal alike: a GET
goes to the sign-in form with `next`, other methods get an HTML page linking to it), 403 when
the role is too weak (a partner's on a newsroom page: a page linking to /portal/), 400 when a
state-changing request authenticated by the session cookie (or any state-changing request
under /admin) lacks the CSRF token.

The partner role is no rank (roles.allows): `@requires("partner")` views are the partners'
alone, and a partner reaches nothing else; which of its partner's rows a view may touch is the
view's to check (partners/service.py owned_subscriber).

Cached feeds and QR images are answered by WSGI middlewares before Flask and so before this
guard (channels/fastpath.py, links/qr_fastpath.py); they only ever serve public paths
(/feeds/…, /s/<code>/qr.…), whose Flask views are @public too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import BadRequest, Forbidden, Unauthorized

from syndication.auth.roles import ADMIN, PARTNER, ROLES, allows
from syndication.auth.session import authenticate, check_csrf, submitted_csrf

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "_syndication_access"
REGISTRY = "syndication.access"  # app.extensions key: endpoint -> Access declared by name
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Access:
    """`public`, or the role needed to read (GET, HEAD, OPTIONS) and to write (the rest)."""

    public: bool = False
    read: str = ADMIN
    write: str = ADMIN

    def role_for(self, method: str) -> str | None:
        """The role `method` needs; None when the view is public."""
        if self.public:
            return None
        return self.read if method.upper() in SAFE_METHODS else self.write


PUBLIC = Access(public=True)
ADMIN_ONLY = Access()


def public(view: F) -> F:
    """Mark a view public: no credentials needed for any of its methods."""
    setattr(view, ATTRIBUTE, PUBLIC)
    return view


def requires(
    role: str | None = None, *, read: str | None = None, write: str | None = None
) -> Callable[[F], F]:
    """The role a view needs: `requires("editor")` for every method, or per kind of method,
    `requires(read="reader", write="editor")`. A kind left out stays admin-only."""
    if role is not None:
        read = read or role
        write = write or role
    access = Access(read=read or ADMIN, write=write or ADMIN)
    for value in (access.read, access.write):
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}")

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, access)
        return view

    return mark


def declare(app: Flask, endpoint: str, access: Access) -> None:
    """Declare access for an endpoint by name (for views you cannot decorate)."""
    app.extensions.setdefault(REGISTRY, {})[endpoint] = access


def access_for(app: Flask, endpoint: str, method: str = "GET") -> Access:
    """The access declared for `endpoint` (ADMIN_ONLY when nothing was declared)."""
    declared = app.extensions.get(REGISTRY, {}).get(endpoint)
    if declared is not None:
        return declared
    view = app.view_functions.get(endpoint)
    if view is None:
        return ADMIN_ONLY
    view_class = getattr(view, "view_class", None)
    candidates = [view]
    if view_class is not None:
        candidates = [getattr(view_class, method.lower(), None), view_class, view]
    for candidate in candidates:
        access = getattr(candidate, ATTRIBUTE, None)
        if isinstance(access, Access):
            return access
    return ADMIN_ONLY


def required_role(app: Flask, endpoint: str, method: str) -> str | None:
    """The role `method` on `endpoint` needs; None = public."""
    return access_for(app, endpoint, method).role_for(method)


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _is_admin(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _unauthorized(problem: str | None) -> Response:
    challenge = WWWAuthenticate("bearer", {"realm": "syndication"})
    if problem:
        challenge["error"] = problem
    if _is_api(request.path):
        message = (
            "The bearer token is malformed, unknown or revoked."
            if problem
            else "Authentication required: send Authorization: Bearer <token>."
        )
        raise Unauthorized(message, www_authenticate=challenge)
    from syndication.pages import view as page_view
    from syndication.runtime import runtime

    settings = runtime().settings
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    if request.method in ("GET", "HEAD") and not problem:
        # Someone opening an admin page (the URL `run` prints, a bookmark) is shown the sign-in
        # form, and brought back here after it, rather than an error page.
        response = redirect(url_for("auth.login", next=next_path), 303)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    body = render_template(
        "admin/unauthorized.html",
        settings=settings,
        site=page_view.site_name(settings),
        lang="en",
        page_title="Sign-in required",
        login_url=url_for("auth.login", next=next_path),
    )
    response = Response(body, status=401, mimetype="text/html")
    response.headers["WWW-Authenticate"] = challenge.to_header()
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _partner_elsewhere(need: str) -> Response:
    """403 for a partner's person on a newsroom page (the admin, say): a page that says so and
    links to the partner portal, where its pages are."""
    from syndication.pages import view as page_view
    from syndication.runtime import runtime

    settings = runtime().settings
    body = render_template(
        "portal/elsewhere.html",
        settings=settings,
        site=page_view.site_name(settings),
        lang="en",
        page_title="Not part of the partner portal",
        need=need,
    )
    response = Response(body, status=403, mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _csrf_failure() -> None:
    raise BadRequest(
        "The form's security token (CSRF) is missing or does not match this session. "
        "Reload the page and try again."
    )


def guard() -> Response | None:
    """before_request: authenticate and authorise every non-public endpoint, then CSRF."""
    if request.routing_exception is not None or request.endpoint is None:
        return None  # 404 / 405: nothing to protect, let Flask answer
    method = request.method
    need = required_role(current_app, request.endpoint, method)
    unsafe = method not in SAFE_METHODS
    if need is None:
        if unsafe and _is_admin(request.path) and not check_csrf(submitted_csrf()):
            _csrf_failure()
        return None
    auth = authenticate()
    if auth.principal is None:
        return _unauthorized(auth.problem)
    if not allows(auth.principal.role, need):
        if auth.principal.role == PARTNER and not _is_api(request.path):
            return _partner_elsewhere(need)
        raise Forbidden(
            f"This needs the {need} role; your {auth.principal.kind} has the "
            f"{auth.principal.role} role."
        )
    if unsafe and auth.via == "session" and not check_csrf(submitted_csrf()):
        _csrf_failure()
    return None
