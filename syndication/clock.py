"""Time for the service: every "now" comes from a clock handed down (`Runtime.clock`), so tests
drive time instead of sleeping. Service code never calls `datetime.now()` itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The system clock: the current time, aware, in UTC."""
    return datetime.now(UTC)
