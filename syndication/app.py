"""The application factory: the one entry point of the web service."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from syndication.channels.fastpath import FeedFastPath
from syndication.config import Settings, load_settings
from syndication.links.qr_fastpath import EXTENSION_KEY as QR_KEY
from syndication.links.qr_fastpath import QrFastPath, QrStore
from syndication.runtime import Runtime

_QR_PATH = re.compile(r"/s/[^/]+/qr\.[a-z]+")


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the Flask app. Settings come from config and environment unless given."""
    settings = settings or load_settings(overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config["MAX_CONTENT_LENGTH"] = 10 * 2**20
    rt = app.extensions["syndication"] = Runtime.create(settings)

    from syndication.channels.routes import bp as feeds_bp
    from syndication.links.qr_routes import bp as qr_bp
    from syndication.links.routes import bp as links_bp
    from syndication.pages.routes import bp as pages_bp
    from syndication.pages.routes import error_page

    app.register_blueprint(feeds_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(links_bp)
    app.register_blueprint(qr_bp)
    app.wsgi_app = FeedFastPath(app.wsgi_app, rt)  # type: ignore[method-assign]
    qr_store = app.extensions[QR_KEY] = QrStore()
    app.wsgi_app = QrFastPath(app.wsgi_app, qr_store)  # type: ignore[method-assign]

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        """One error policy, whichever layer raised: JSON for the API, plain text for
        machine-read documents (feeds, OPML, QR images), an HTML page for people."""
        status = exc.code or 500
        path = request.path
        if path.startswith("/api/"):
            response = jsonify(
                error={
                    "code": exc.name.lower().replace(" ", "_"),
                    "message": exc.description,
                    "fields": {},
                }
            )
            response.status_code = status
        elif path.startswith("/feeds") or _QR_PATH.fullmatch(path):
            response = Response(
                f"{status} {exc.name}: {exc.description}\n", status=status, mimetype="text/plain"
            )
        else:
            response = error_page(status, exc.name, exc.description or exc.name)
        for key, value in exc.get_headers():  # Allow on a 405, for one
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    return app
