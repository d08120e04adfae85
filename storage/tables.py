"""SQLAlchemy tables. Platform ids are stored as given; our own integer keys join them.

Tenants are keyed by "<platform>:<external id>" so one database can hold a Slack workspace and a
Teams tenant side by side without collisions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_channels_tenant_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16), default="channel")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    audience_scope: Mapped[str | None] = mapped_column(
        String(255), nullable=True,
        doc="who can read a non-private channel: None = the whole tenant (Slack public channels); "
            "a group id = only that group (a Teams team's standard channels)",
    )
    topic: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_users_tenant_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    tz: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)


class ChannelMember(Base):
    __tablename__ = "channel_members"
    # Which channels one person is in (every question asks: storage/workspace.py channels_seen_by).
    __table_args__ = (Index("ix_channel_members_user", "user_id"),)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class Team(Base):
    """A group whose members may read its channels (a Teams team); its roster is refreshed from the platform."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id", name="uq_teams_tenant_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    roster_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_messages_channel_external"),
        Index("ix_messages_channel_created", "channel_id", "created_at"),
        Index("ix_messages_channel_thread", "channel_id", "thread_external_id"),
        Index("ix_messages_tenant_edited", "tenant_id", "edited_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    thread_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reaction_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_id: Mapped[str | None] = mapped_column(
        String(64), nullable=True, doc="set on whybot's own replies: history, but never evidence"
    )


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "path", name="uq_documents_tenant_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), nullable=True,
        doc="when set, the document is only as visible as this channel",
    )
    path: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(512), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class MessageEmbedding(Base):
    """A message's dense vector under one embedding model (float32 bytes). `text_hash` says which text
    it was computed from, so an edit makes it stale instead of silently wrong."""

    __tablename__ = "message_embeddings"
    __table_args__ = (Index("ix_message_embeddings_tenant_model", "tenant_id", "model"),)

    message_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                            ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    text_hash: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class Decision(Base):
    """A reply's rationale, readable only within its tenant and from where the reply was shown."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_thread", "tenant_id", "channel_external_id", "thread_id"),
        Index("ix_decisions_tenant_created", "tenant_id", "created_at"),
        Index("ix_decisions_asker", "tenant_id", "user_external_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    channel_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    skill: Mapped[str] = mapped_column(String(64))
    rationale: Mapped[dict[str, Any]] = mapped_column(JSON)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    posted_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    thread_id: Mapped[str | None] = mapped_column(String(255), nullable=True,
                                                  doc="the thread the reply was posted in (for follow-ups)")
    question: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="what was asked, when the request was a question (None: a command, a digest)")
    outcome: Mapped[str | None] = mapped_column(
        String(16), nullable=True, doc="answered, declined or failed for questions; None for everything else")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, index=True)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("decision_id", "user_external_id", "item_id", name="uq_feedback_once_per_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    user_external_id: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[str] = mapped_column(String(255), default="")
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class DecisionOpen(Base):
    """One Why? opened on a decision, kept for engagement per week (a Prometheus counter forgets on restart
    and knows no decision). `key` is the turn that opened it, so a retried turn counts once."""

    __tablename__ = "decision_opens"
    __table_args__ = (Index("ix_decision_opens_tenant_opened", "tenant_id", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_external_id: Mapped[str] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(Boolean, default=False, doc="opened with the details for admins")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class DigestSubscription(Base):
    __tablename__ = "digest_subscriptions"
    __table_args__ = (UniqueConstraint("tenant_id", "channel_external_id", name="uq_digest_sub_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    channel_external_id: Mapped[str] = mapped_column(String(255))
    cron: Mapped[str] = mapped_column(String(64), doc="croniter expression in `tz`")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    description: Mapped[str] = mapped_column(String(128), default="")
    top_n: Mapped[int] = mapped_column(Integer, default=5)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class InboxItem(Base):
    """A turn the bot owes someone: committed before the platform gets its 2xx, then claimed by a worker
    under a lease until it is done. `key` is the platform's delivery id, so a retried delivery is a no-op."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_claim", "status", "priority", "available_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=5, doc="lower runs first: clicks before answers")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    posted_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, doc="what the turn shows while it runs (status line, text so far), for pages that poll")


class ConversationReference(Base):
    """Where a platform can post later (Teams proactive messages, Slack channel ids)."""

    __tablename__ = "conversation_references"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_external_id", name="uq_conversation_references_channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    channel_external_id: Mapped[str] = mapped_column(String(255))
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class DigestRun(Base):
    """One scheduled digest delivery; unique per (subscription, scheduled time) for exactly-once."""

    __tablename__ = "digest_runs"
    __table_args__ = (
        UniqueConstraint("subscription_id", "scheduled_for", name="uq_digest_runs_slot"),
        Index("ix_digest_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("digest_subscriptions.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    posted_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelWeights(Base):
    """Per-channel digest ranking weights refitted from feedback."""

    __tablename__ = "channel_weights"
    __table_args__ = (UniqueConstraint("tenant_id", "channel_external_id", name="uq_channel_weights_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_external_id: Mapped[str] = mapped_column(String(255))
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class ChannelRule(Base):
    """What whybot may do in one channel, set with `/whybot settings`: read it at all, answer questions
    asked without a mention, and the channel's digest defaults. No row = the defaults."""

    __tablename__ = "channel_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "channel_external_id", name="uq_channel_rules_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    channel_external_id: Mapped[str] = mapped_column(String(255))
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    excluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answer_mode: Mapped[str] = mapped_column(String(16), default="mention")
    digest_window_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest_top_n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest_cron: Mapped[str | None] = mapped_column(String(64), nullable=True)
    digest_tz: Mapped[str | None] = mapped_column(String(64), nullable=True)
    digest_description: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class RateEvent(Base):
    """One request a person made, counted against their rate limits; `key` is the turn's, so a retried
    turn counts once. Rows older than the longest window are purged."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_person", "tenant_id", "user_external_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_external_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


__all__ = [
    "Base",
    "Channel",
    "ChannelMember",
    "ChannelRule",
    "ChannelWeights",
    "ConversationReference",
    "Decision",
    "DecisionOpen",
    "DigestRun",
    "DigestSubscription",
    "Document",
    "Feedback",
    "Message",
    "RateEvent",
    "Tenant",
    "UTCDateTime",
    "User",
]
