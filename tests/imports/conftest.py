"""Fixtures for the import parser tests: a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from .import_helpers import Served


@pytest.fixture
def http_server() -> Iterator[Served]:
    served = Served()
    thread = threading.Thread(target=served.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join()
