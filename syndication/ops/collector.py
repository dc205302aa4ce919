"""Metrics read from the database when /metrics is scraped: one cheap query each, whichever
process scrapes, instead of every process counting what the database already knows."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import case, func, select

from syndication.clock import Clock
from syndication.db import Database
from syndication.models import Delivery, HubIntent, Subscriber

HUB_STATES = ("active", "expired", "disabled")
UP = "syndication_database_up"
UP_HELP = "1 when the scrape could read the database's metrics, else 0 (and they are left out)."
log = logging.getLogger(__name__)


class DatabaseCollector:
    """A prometheus_client collector (anything with collect()) over the database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception:  # noqa: BLE001 - the process's own metrics are still worth a scrape
            log.warning("metrics: the database could not be read", exc_info=True)
            yield GaugeMetricFamily(UP, UP_HELP, value=0)

    def _collect(self) -> Iterator[Metric]:
        now = self.clock()
        with self.db.read() as session:
            # ix_deliveries_due (status, next_attempt_at): a range of the index, no table rows.
            depth, oldest = session.execute(
                select(func.count(), func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == "pending", Delivery.next_attempt_at <= now
                )
            ).one()
            state = case(
                (Subscriber.active.is_(False), "disabled"),
                (Subscriber.lease_expires_at <= now, "expired"),
                else_="active",
            )
            # ix_subscribers_topic_callback starts with kind.
            hub = dict(
                session.execute(
                    select(state, func.count()).where(Subscriber.kind == "websub").group_by(state)
                ).all()
            )
            # ix_hub_intents_due starts with status.
            intents = session.scalar(
                select(func.count()).select_from(HubIntent).where(HubIntent.status == "pending")
            )
        yield GaugeMetricFamily(UP, UP_HELP, value=1)
        yield GaugeMetricFamily(
            "syndication_deliveries_due",
            "Deliveries whose time to be sent has come and that are not finished (in flight "
            "included).",
            value=depth,
        )
        yield GaugeMetricFamily(
            "syndication_oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has been due (0 when none is).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
        )
        subscriptions = GaugeMetricFamily(
            "syndication_hub_subscriptions",
            "WebSub subscriptions at the hub by state (active, expired lease, disabled).",
            labels=["state"],
        )
        for name in HUB_STATES:
            subscriptions.add_metric([name], hub.get(name, 0))
        yield subscriptions
        yield GaugeMetricFamily(
            "syndication_hub_intents_pending",
            "WebSub subscribe / unsubscribe requests waiting for verification of intent.",
            value=intents or 0,
        )
