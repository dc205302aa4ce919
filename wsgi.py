"""WSGI entry point: `app` for any WSGI server (run `syndication init` first)."""

from syndication.app import create_app

app = create_app()
