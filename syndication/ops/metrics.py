"""The service's Prometheus metrics, counted in every process and exposed at /metrics.

prometheus_client keeps metric values per process by design: in multiprocess mode each process
writes its values into memory-mapped files of its own under PROMETHEUS_MULTIPROC_DIR, and the
library picks that mode (module state of its own) when it is first imported. So a process has
exactly one `Metrics`, made with its Runtime and handed down from there (web app, delivery
engine, visit buffer); no module of ours holds a metric in a global.

- Single process (tests, `flask run`): each `Metrics` has a registry of its own, so two apps in
  one test process never see each other's counts.
- Multiprocess (`syndication run`: granian's web workers and the scheduler process): the run
  command empties <instance>/metrics and names it in PROMETHEUS_MULTIPROC_DIR before any child
  starts (`enable_multiprocess`); a scrape, in whichever web worker answers it, reads every
  process's files (MultiProcessCollector). Counters of processes gone still count (a counter
  never goes down); the gauge of buffered visits sums the live processes only (livesum), and a
  process marks itself dead on the way out (`mark_dead`).

What lives in the database (the due queue, hub subscriptions) is not counted here: it is read
at scrape time by ops/collector.py, one query each, whichever process scrapes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
    values,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The text format every Prometheus reads (2.x and 3.x); our names and labels are plain ASCII,
# so the body is the same as the newer 1.0.0 format's.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; a delivery attempt is cut off at outbound_timeout (15 s by default, at most 300).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)
DELIVERY_OUTCOMES = ("delivered", "failed", "error")


def multiprocess_dir() -> str | None:
    """The directory the processes of this server share their metrics in, if any."""
    return os.environ.get(MULTIPROC_ENV) or None


def enable_multiprocess(directory: Path) -> None:
    """Make `directory` (emptied: files of an earlier run would be summed in) the shared metrics
    directory of this process and of every process it starts from now on.

    prometheus_client reads the variable once, when it is first imported; this process imported
    it already (the CLI's runtime), and granian forks its web workers from it, so the value class
    it chose then is chosen again now."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()


def mark_dead(pid: int) -> None:
    """Drop the live gauges of process `pid` (gone) from what the scrapes sum."""
    directory = multiprocess_dir()
    if directory and Path(directory).is_dir():
        multiprocess.mark_process_dead(pid, directory)


class _Collectors:
    """What generate_latest needs of a registry: collect()."""

    def __init__(self, collectors: Iterable[Any]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


class Metrics:
    """The metrics of one process. Bound children (a counter with its labels) are kept per
    label values by the callers' hot paths, which skip the library's label lookup."""

    def __init__(self) -> None:
        # No `_created` series: multiprocess mode has none, and single-process scrapes should
        # read the same (a library-wide switch, as the registry is).
        disable_created_metrics()
        self.shared_dir = multiprocess_dir()
        # Multiprocess: the values go to the shared files whatever the registry; none here, or
        # a second Runtime in one process would trip over duplicate names.
        self.registry = None if self.shared_dir else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "syndication_http_requests",
            "HTTP requests answered, by route class and status code (fast paths included).",
            ["route", "status"],
            registry=r,
        )
        self.feed_cache = Counter(
            "syndication_feed_cache_requests",
            "Feed page requests by whether the rendered page was in this process's cache.",
            ["format", "result"],
            registry=r,
        )
        self.deliveries = Counter(
            "syndication_deliveries",
            "Delivery attempts (webhooks, WebSub notifications) by kind and outcome: delivered "
            "(2xx), failed (any other answer) or error (no answer: timeout, refused, unsendable).",
            ["kind", "outcome"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "syndication_delivery_latency_seconds",
            "Time from sending a delivery's request to its answer (or to giving up on it).",
            ["kind", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.visits_buffered = Gauge(
            "syndication_visits_buffered",
            "Short link visits counted in memory, not yet written to the database.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._delivery_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._feed_children: dict[tuple[str, bool], Any] = {}

    def feed_cache_lookup(self, fmt: str, hit: bool) -> None:
        """Count one feed page lookup in the page cache (fmt: rss, atom or json)."""
        child = self._feed_children.get((fmt, hit))
        if child is None:
            child = self.feed_cache.labels(fmt, "hit" if hit else "miss")
            self._feed_children[(fmt, hit)] = child
        child.inc()

    def observe_delivery(self, kind: str, outcome: str, seconds: float | None) -> None:
        children = self._delivery_children.get((kind, outcome))
        if children is None:
            children = (
                self.deliveries.labels(kind, outcome),
                self.delivery_latency.labels(kind, outcome),
            )
            self._delivery_children[(kind, outcome)] = children
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def exposition(self, *extra: Any) -> bytes:
        """The Prometheus text of every process's metrics and of `extra` collectors."""
        if self.shared_dir:
            own: Any = multiprocess.MultiProcessCollector(None, path=self.shared_dir)
        else:
            own = self.registry
        return generate_latest(_Collectors([own, *extra]))  # type: ignore[arg-type]
