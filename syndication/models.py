"""Database tables (SQLAlchemy 2 declarative). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every engine.

    SQLite has no time zone type: values are stored as naive UTC so that text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Story(Base):
    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # Identity of a story imported from a source without story codes (an RSS guid, say),
    # so that a re-import updates it instead of creating a second one.
    external_id: Mapped[str | None] = mapped_column(String(512), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2048))  # None = the story's own page
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(35))
    image: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Grows with every content change, and with every retraction or re-publication of a story
    # already published: each partner event for a story carries a greater one (stories/service).
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # sha256 of the content fields: saving identical content creates no revision.
    content_hash: Mapped[str] = mapped_column(String(64))
    # A takedown (stories/kill.py) empties the content and leaves these as its tombstone.
    killed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kill_reason: Mapped[str | None] = mapped_column(String(500))
    # Public corrections, oldest first: [{"text": plain text, "at": ISO 8601 UTC}]. Appended
    # only (stories/service.correct_story); each one is a revision of its own.
    corrections: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )

    # Loaded only when touched (on writes): pages match terms in SQL and never read them.
    terms: Mapped[list[StoryTerm]] = relationship(
        back_populates="story", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Feed pages walk this index newest first: cost grows with the page, not the archive.
        Index("ix_stories_feed", "status", "published_at", "id"),
        Index("ix_stories_due", "status", "publish_at"),
        # The Atom tombstones of a channel: its recently killed or retracted stories.
        Index("ix_stories_gone", "status", "updated_at"),
    )


class StoryTerm(Base):
    """Lower-cased filter keys of a story (section, tag, language, source, author).

    Channel filters match these with an indexed EXISTS, whatever the kind.
    """

    __tablename__ = "story_terms"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)

    story: Mapped[Story] = relationship(back_populates="terms")

    __table_args__ = (Index("ix_story_terms_lookup", "kind", "value", "story_id"),)


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))  # declared when the filter can't
    link: Mapped[str | None] = mapped_column(String(2048))
    copyright: Mapped[str | None] = mapped_column(String(500))
    logo: Mapped[str | None] = mapped_column(String(2048))
    filter: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    limit: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(String(16), default="full")
    formats: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Grows by one whenever anything the channel shows (or just stopped showing) changes:
    # rendered pages are cached under it, so a cache hit costs one indexed read of this row.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The version whose WebSub notifications were last queued: a hub.mode=publish of a topic
    # unchanged since then distributes nothing.
    distributed_version: Mapped[int | None] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Sequence(Base):
    """Named counters (story codes), portable across SQLite and PostgreSQL."""

    __tablename__ = "sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Link(Base):
    """A short link: a story's News Link, or an admin's link to any http(s) URL."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Generated (4-8 characters of an unambiguous alphabet) or a custom slug; never reused.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), unique=True
    )
    target_url: Mapped[str | None] = mapped_column(String(2048))  # None for a story's link
    title: Mapped[str | None] = mapped_column(String(500))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_visits: Mapped[int | None] = mapped_column(Integer)
    # Human visits flushed so far: what max_visits is measured against (bots don't count).
    human_visits: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Deleting keeps the row as a tombstone, so that the code is never handed out again.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Visit(Base):
    """One request of a short link (or a scan of its QR code)."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    medium: Mapped[str] = mapped_column(String(8))  # "link" or "qr"
    is_bot: Mapped[bool] = mapped_column(Boolean)
    referrer_host: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_visits_link_at", "link_id", "at"),)


class ApiToken(Base):
    """A bearer token for the API. Only the SHA-256 of the token is stored (auth/tokens.py)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256
    # The first characters of the token ("syn_AbC123"): enough to tell tokens apart in a list,
    # far too few to guess the rest from.
    prefix: Mapped[str] = mapped_column(String(16))
    # Role "partner" only: whose subscribers it reaches (partners/service.py).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    """A person who signs in to the web admin (auth/users.py)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)  # stored lower-cased
    role: Mapped[str] = mapped_column(String(16))
    # Role "partner" only: whose subscribers the user reaches (partners/service.py).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    # "scrypt$n=…,r=…,p=…$<salt>$<hash>": the parameters travel with the hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Carried in the session cookie; signing out adds one, so every cookie issued before
    # (a copy included) stops working at once (auth/session.py).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttempt(Base):
    """Sign-in attempts counted per key (auth/signin_limiter.py): one row per client address
    and username pair, one per client address. Shared by every worker process.

    The key is a hash: what people type as a username is sometimes their password.
    """

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256
    # Attempts since the count last started from zero, this one included: counted before the
    # password is checked, so that concurrent attempts cannot all slip under the limit.
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_login_attempts_last_at", "last_at"),)


class IdempotencyKey(Base):
    """The first answer to a POST sent with an `Idempotency-Key` header, per caller and key,
    replayed when the same request comes again (api/idempotency.py). Kept for 24 hours."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))  # "token:3", "user:1"
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # None while the first is under way
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ux_idempotency_keys_principal_key", "principal", "key", unique=True),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )


class Subscriber(Base):
    """A receiver of pushes: a partner's webhook endpoint (WebSub callbacks come later and share
    the delivery machinery)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="webhook")
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048))
    # "whsec_<base64>": kept as is, since signing needs the key itself.
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret still signs (a second signature) until this time.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty = all
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # channel slugs
    filter: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # as a channel's
    format: Mapped[str] = mapped_column(String(16), default="json")  # json | ninjs
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    throttle: Mapped[float | None] = mapped_column(Float)  # deliveries per second, None = no cap
    # A trusted partner: told of scheduled stories before publish_at (story.embargoed).
    receives_embargoed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The partner an admin assigned this subscriber to: its people and tokens manage it in the
    # partner portal (None: the newsroom's alone).
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Start of the current run of failures without a success (None while healthy).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WebSub subscriptions (kind "websub"): url is hub.callback, secret is hub.secret (may be
    # empty: notifications unsigned), channels holds the topic's channel slug.
    topic: Mapped[str | None] = mapped_column(String(2048))
    topic_format: Mapped[str | None] = mapped_column(String(8))  # rss | atom | json
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_subscribers_topic_callback", "kind", "topic", "url"),)


class Event(Base):
    """The transactional outbox: written in the same transaction as the story change."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(
        String(32)
    )  # story.published | story.updated | story.retracted | story.corrected
    story_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    story_code: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict] = mapped_column(JSON)  # the story as it was then (API schema)
    # What subscribers are matched on: for a retraction, the last published fields.
    terms: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # For an update that changed them: the fields before. Matched too, so a story that left a
    # channel still updates the subscribers who had it.
    previous_terms: Mapped[list[list[str]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker expanding the event into deliveries (a chunk at a time) holds it until then.
    expand_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_events_undispatched", "dispatched_at", "id"),
        # Was a story's embargo told (stories/service.py), and to whom (webhooks/transmitter.py)?
        Index("ix_events_story_type", "story_id", "type"),
    )


class Delivery(Base):
    """One event for one subscriber, until delivered or dead."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    # The Standard Webhooks message id: stable across retries and replays.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    # pending | delivered | dead | cancelled | skipped (the subscriber was disabled)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker's claim: until then no other worker takes it; a crashed worker's claim expires.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The claim's token: a result is applied only while the delivery still carries it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pull subscriber's delivery (status "available"): the partner's page that last handed it
    # out, until the partner acknowledges that page (push/pull.py); None: not handed out.
    pull_page: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))

    __table_args__ = (
        # A page of the pull API: a subscriber's available deliveries in version order.
        Index(
            "ix_deliveries_available",
            "subscriber_id",
            "event_id",
            "id",
            postgresql_where=text("status = 'available'"),
            sqlite_where=text("status = 'available'"),
        ),
        # In the claim's order (next_attempt_at, id): a claim reads its LIMIT rows, not every
        # pending one.
        Index("ix_deliveries_due", "status", "next_attempt_at", "id"),
        # A claim's probe of each subscriber's first due rows (PostgreSQL's LATERAL).
        Index(
            "ix_deliveries_subscriber_due",
            "subscriber_id",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_deliveries_subscriber", "subscriber_id", "created_at"),
        Index("ix_deliveries_created", "created_at"),
        Index("ux_deliveries_event_subscriber", "event_id", "subscriber_id", unique=True),
        # Room for a row's new version in its page: a claim's lease is a HOT update.
        {"postgresql_with": {"fillfactor": 70}},
    )


class DeliveryAttempt(Base):
    """The log: every attempt, successful or not."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(1000))
    response_excerpt: Mapped[str | None] = mapped_column(Text)  # the first 1 KiB

    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "at"),)


class HubIntent(Base):
    """A WebSub subscribe / unsubscribe request waiting for verification of intent: nothing
    changes for the subscriber until its callback has echoed the challenge."""

    __tablename__ = "hub_intents"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # subscribe | unsubscribe
    topic: Mapped[str] = mapped_column(String(2048))
    callback: Mapped[str] = mapped_column(String(2048))
    # The callback's host (A-labels): pending verifications are capped per host.
    callback_host: Mapped[str] = mapped_column(String(255), default="")
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    challenge: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # pending | verified | failed | denied
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker's claim
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_hub_intents_due", "status", "next_attempt_at"),
        Index("ix_hub_intents_host", "status", "callback_host"),
    )


class RateLimit(Base):
    """Requests counted per key (a client address, say) in fixed windows, shared by every
    process (syndication/ratelimit.py)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    hits: Mapped[int] = mapped_column(Integer)


class Partner(Base):
    """A partner organisation: its users and tokens (role "partner") reach the subscribers an
    admin assigned to it, and nothing else (partners/service.py)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The number of the last page the pull API handed out to this partner (push/pull.py).
    pull_page: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), default=0, server_default="0"
    )


class Heartbeat(Base):
    """A process running the jobs (the scheduler of `syndication run`, a `syndication worker`)
    says it is alive: one row per process, rewritten every poll_interval (syndication/ops/
    heartbeat.py). GET /ready reads the newest."""

    __tablename__ = "heartbeats"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<host>:<pid>"
    role: Mapped[str] = mapped_column(String(16))  # scheduler | worker
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_heartbeats_at", "at"),)


class ReachReport(Base):
    """A feed reader's latest stated subscriber count for a channel on one UTC day, per feed id
    of that reader (reach/readers.py): the channel's count from it that day is their sum."""

    __tablename__ = "reach_reports"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    reader: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = none given
    subscribers: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # of the request that stated it

    __table_args__ = (Index("ix_reach_reports_day", "day"),)


class ReachClient(Base):
    """One other feed client that fetched a channel on one UTC day, known only by a truncated
    keyed hash of its address and User-Agent whose key changes every day (reach/buffer.py): no
    address is stored, and one day's hashes cannot be matched with another's."""

    __tablename__ = "reach_clients"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    client: Mapped[str] = mapped_column(String(16), primary_key=True)  # hex, 64 bits
    reader: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_reach_clients_day", "day"),)
