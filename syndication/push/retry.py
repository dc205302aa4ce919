"""When to try a delivery again: the retry schedule with jitter, a receiver's `Retry-After`
(untrusted, so clamped), and the per-subscriber token bucket of `throttle`.

Pure policy: time comes in as arguments, randomness from an injected source, so tests assert
exact schedules.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

JITTER = 0.10
# A receiver's Retry-After is honoured within these bounds (seconds): a header of 0 or of
# 300000000000 must neither hammer it nor park a delivery for ever.
RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    """`delays[n]` seconds (±`jitter`) before retry n+1; after the last one, give up."""

    delays: tuple[float, ...]
    jitter: float = JITTER
    # A number in [0, 1): random.random in production, a constant in tests.
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempts: int) -> float | None:
        """Seconds before the next try after `attempts` failed ones; None = give up."""
        if attempts < 1 or attempts > len(self.delays):
            return None
        spread = 1 + self.jitter * (2 * self.rand() - 1)
        return self.delays[attempts - 1] * spread


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP date, clamped to
    [RETRY_AFTER_MIN, RETRY_AFTER_MAX]; a date already past means now (0). None when absent
    or unreadable (then the schedule applies)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # int(), never float(): a 300-digit header must not overflow anything.
        seconds = int(value[:12]) if len(value) <= 12 else int(RETRY_AFTER_MAX)
        return min(max(float(seconds), RETRY_AFTER_MIN), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:
        return RETRY_AFTER_MAX
    if seconds <= 0:
        return 0.0
    return min(max(seconds, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


class TokenBucket:
    """`rate` tokens per second, at most max(1, rate) banked; time is given, not read."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.last = now
        self._lock = threading.Lock()

    def take(self, now: float) -> float:
        """0 when a token was taken at `now` (seconds), else the seconds until the next one."""
        with self._lock:
            elapsed = max(0.0, now - self.last)
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.last = max(self.last, now)
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate
