"""The push side of a process, in one object handed down: no module globals.

A `PushContext` holds what push work shares within one process: the database and its wake-up,
the settings, the clock, the outbound HTTP client (its event loop, connection pool and DNS
resolver), the transmitters by kind (and their caches: rendered topics, webhook bodies), and the
delivery engine. The web app, the CLI and `syndication worker` each make one (through
`Runtime`); tests make their own with a fake clock or a stub resolver.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from syndication.clock import Clock, utcnow
from syndication.config import Settings
from syndication.db import Database
from syndication.ops.metrics import Metrics
from syndication.outbound import OutboundClient, OutboundPolicy
from syndication.push.engine import Engine
from syndication.push.pull import PullTransmitter, PullWaits
from syndication.push.retry import RetryPolicy
from syndication.push.transmitter import Transmitter
from syndication.push.wake import Waker
from syndication.push.webhooks.transmitter import WebhookTransmitter
from syndication.push.websub.topics import TopicRenderer
from syndication.push.websub.transmitter import WebSubTransmitter

USER_AGENT = "syndication/1"


class PushContext:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        waker: Waker | None = None,
        outbound: OutboundClient | Callable[[], OutboundClient] | None = None,
        rand: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        # The process's metrics (ops/metrics.py); a context of its own (a test's) counts in a
        # registry of its own.
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.clock = clock
        # One Waker per database per process: a derived context shares its parent's.
        self.waker = waker or Waker(db)
        self.retry = RetryPolicy(settings.retry_delays, rand=rand)
        self.topics = TopicRenderer(settings)
        # WebSub first: its coalescing looks at what is already queued.
        self.transmitters: dict[str, Transmitter] = {
            t.kind: t
            for t in (
                WebSubTransmitter(settings, self.topics),
                WebhookTransmitter(),
                PullTransmitter(),
            )
        }
        # The pull API's long-polls in this process, woken by its commits of push work.
        self.pull = PullWaits(self.waker, settings.pull_waits_per_partner, settings.pull_waits)
        self._outbound = outbound
        self._engine: Engine | None = None
        self._unsubscribe: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._own_outbound = not isinstance(outbound, OutboundClient)

    @property
    def outbound(self) -> OutboundClient:
        """The process's outbound HTTP client, made on first use (it starts an event loop)."""
        with self._lock:
            return self._outbound_unlocked()

    def _new_outbound(self) -> OutboundClient:
        return OutboundClient(
            OutboundPolicy.from_settings(self.settings),
            user_agent=USER_AGENT,
            proxies=OutboundClient.proxies_from_environment(),
        )

    @property
    def engine(self) -> Engine:
        """The delivery engine, made on first use; woken by this database's commits."""
        with self._lock:
            if self._engine is None:
                self._engine = Engine(
                    self.db,
                    self.settings,
                    self.clock,
                    self._outbound_unlocked(),
                    self.transmitters,
                    self.retry,
                    self.metrics,
                )
                self._unsubscribe = self.waker.subscribe(self._engine.wake)
            return self._engine

    def _outbound_unlocked(self) -> OutboundClient:
        if not isinstance(self._outbound, OutboundClient):
            factory = self._outbound
            self._outbound = factory() if factory is not None else self._new_outbound()
        return self._outbound

    def derive(self, settings: Settings | None = None, **kwargs: object) -> PushContext:
        """Another context on the same database (and wake-up), e.g. with other settings or a
        fake clock, for a test."""
        kwargs.setdefault("waker", self.waker)
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("metrics", self.metrics)
        return PushContext(self.db, settings or self.settings, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the engine and close the outbound client (if this context made it)."""
        with self._lock:
            engine, self._engine = self._engine, None
            outbound = self._outbound
        self.pull.unsubscribe()
        if engine is not None:
            self._unsubscribe()
            engine.stop()
        if self._own_outbound and isinstance(outbound, OutboundClient):
            outbound.close()
