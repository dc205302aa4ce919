"""The application factory: the one entry point of the web service."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from syndication.channels.fastpath import FeedFastPath
from syndication.config import Settings, load_settings
from syndication.links.qr_fastpath import EXTENSION_KEY as QR_KEY
from syndication.links.qr_fastpath import QrFastPath, QrStore
from syndication.runtime import Runtime


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

    app.register_blueprint(feeds_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(links_bp)
    app.register_blueprint(qr_bp)
    app.wsgi_app = FeedFastPath(app.wsgi_app, rt)  # type: ignore[method-assign]
    qr_store = app.extensions[QR_KEY] = QrStore()
    app.wsgi_app = QrFastPath(app.wsgi_app, qr_store)  # type: ignore[method-assign]

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        # Public routes answer errors in plain text; the JSON API (later) answers JSON.
        if request.path.startswith("/api/"):
            from flask import jsonify

            response = jsonify(
                error={
                    "code": exc.name.lower().replace(" ", "_"),
                    "message": exc.description,
                    "fields": {},
                }
            )
            response.status_code = exc.code or 500
            return response
        return Response(
            f"{exc.code} {exc.name}: {exc.description}\n", status=exc.code, mimetype="text/plain"
        )

    return app
