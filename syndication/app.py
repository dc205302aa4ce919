"""The application factory: the one entry point of the web service."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from syndication import i18n, inputs
from syndication.api.common import error_response as api_error_response
from syndication.channels.fastpath import FeedFastPath
from syndication.config import Settings, load_settings
from syndication.links.fastpath import RedirectFastPath
from syndication.links.qr_fastpath import EXTENSION_KEY as QR_KEY
from syndication.links.qr_fastpath import QrFastPath, QrStore
from syndication.ops import routes as ops_routes
from syndication.ops.logs import setup_logging
from syndication.ops.traffic import RequestCounter
from syndication.runtime import Runtime

_QR_PATH = re.compile(r"/s/[^/]+/qr\.[a-z]+")


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, **overrides: Any
) -> Flask:
    """Build the Flask app. Settings come from config and environment unless given; the
    process's Runtime is made here unless given (tests give one with their own clock)."""
    settings = runtime.settings if runtime is not None else settings or load_settings(overrides)
    setup_logging(settings)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    rt = app.extensions["syndication"] = runtime or Runtime.create(settings)

    from syndication.auth import access
    from syndication.auth import session as auth_session

    auth_session.configure(app, settings)
    # Feed clients are counted by a hash keyed from the secret key (reach/buffer.py).
    rt.reach.use_secret(str(app.secret_key))
    i18n.init_app(app, settings.tz)
    # The input-cleaning layer (inputs.py) first of all: a request with a NUL byte, a lone
    # surrogate or an id beyond its column is refused before anything reads it.
    app.before_request(lambda: inputs.check_request(rt.db.is_sqlite))
    # The one guard: every endpoint not declared @public is authenticated and its role checked
    # here, before any view parses its input (auth/access.py). Registered before any other
    # hook that reads the request.
    app.before_request(access.guard)
    access.declare(app, "static", access.PUBLIC)
    # Bodies once the caller is known (a stranger's body is not read): NUL or stray bytes in a
    # form, over-deep JSON.
    app.before_request(lambda: inputs.check_body(settings.json_max_depth))

    from syndication.admin.routes import bp as admin_bp
    from syndication.auth.routes import bp as auth_bp
    from syndication.channels.routes import bp as feeds_bp
    from syndication.links.qr_routes import bp as qr_bp
    from syndication.links.routes import bp as links_bp
    from syndication.media.routes import bp as media_bp
    from syndication.pages.routes import bp as pages_bp
    from syndication.pages.routes import http_error_page
    from syndication.portal.routes import bp as portal_bp
    from syndication.push.websub.routes import bp as hub_bp
    from syndication.sitemaps.routes import bp as sitemaps_bp

    app.register_blueprint(feeds_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(links_bp)
    app.register_blueprint(qr_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(portal_bp)  # /portal/, the partner portal
    app.register_blueprint(hub_bp)  # POST /hub, the WebSub hub
    app.register_blueprint(sitemaps_bp)  # /sitemap.xml, /sitemaps/*, /robots.txt
    app.register_blueprint(media_bp)  # /media/<sha256>.<ext>, uploaded images
    ops_routes.init_app(app, rt)  # /metrics, /ready
    from syndication.api import init_api

    init_api(app)
    bare_app = app.wsgi_app
    app.wsgi_app = FeedFastPath(app.wsgi_app, rt)  # type: ignore[method-assign]
    app.wsgi_app = RedirectFastPath(app.wsgi_app, rt)  # type: ignore[method-assign]
    qr_store = app.extensions[QR_KEY] = QrStore()
    app.wsgi_app = QrFastPath(app.wsgi_app, qr_store)  # type: ignore[method-assign]
    # Outside the fast paths, which read the path and query themselves.
    app.wsgi_app = inputs.InputGuard(app.wsgi_app, bare_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Outermost, so the fast paths and Flask all see the client's address, scheme and host.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    # Outermost of all: every request is counted, those the fast paths answer too.
    app.wsgi_app = RequestCounter(app.wsgi_app, rt.metrics)  # type: ignore[method-assign]

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        """One error policy, whichever layer raised: JSON for the API, plain text for
        machine-read documents (feeds, OPML, QR images), an HTML page for people."""
        status = exc.code or 500
        path = request.path
        if path.startswith("/api/"):
            # Field errors of the API's request parsing (webargs 422) become field paths.
            response = api_error_response(exc)
        elif (
            path.startswith(("/feeds", "/sitemap"))
            or path in ("/hub", "/robots.txt")
            or _QR_PATH.fullmatch(path)
        ):
            response = Response(
                f"{status} {exc.name}: {exc.description}\n", status=status, mimetype="text/plain"
            )
        else:
            response = http_error_page(status, exc.name, exc.description or exc.name)
        for key, value in exc.get_headers():  # Allow on a 405, for one
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    return app
