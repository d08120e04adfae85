"""Plain, read-only views of stored rows handed to the rest of the code (no ORM objects escape)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def tenant_key(platform: str, external_id: str) -> str:
    return f"{platform}:{external_id}"


RESTRICTED_KINDS: tuple[str, ...] = ("group", "dm")  # conversations only their members can read


def is_restricted(is_private: bool, kind: str) -> bool:
    """Readable by its members only (storage/workspace.py asks the same of rows in SQL)."""
    return is_private or kind in RESTRICTED_KINDS


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A channel. Private ones and the kinds in RESTRICTED_KINDS are readable by their members only."""

    id: int
    tenant_id: str
    external_id: str
    name: str
    kind: str
    is_private: bool
    member_ids: frozenset[str] = field(default_factory=frozenset)
    audience_scope: str | None = None
    # The stored members of the group `audience_scope` names (a Teams team's roster); empty when unknown.
    audience_members: frozenset[str] = field(default_factory=frozenset)
    # Excluded with `/whybot settings exclude`: nothing from it is stored, searched or shown anywhere.
    excluded: bool = False

    @property
    def restricted(self) -> bool:
        return is_restricted(self.is_private, self.kind)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    tenant_id: str
    external_id: str
    name: str
    display_name: str
    tz: str | None
    is_bot: bool

    @property
    def label(self) -> str:
        return self.display_name or self.name or self.external_id


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    tenant_id: str
    channel_id: int
    channel_external_id: str
    channel_name: str
    external_id: str
    thread_external_id: str | None
    user_external_id: str | None
    user_name: str
    text: str
    created_at: datetime
    edited_at: datetime | None = None
    reaction_count: int = 0
    reply_count: int = 0
    mention_count: int = 0
    file_count: int = 0
    permalink: str | None = None
    is_bot: bool = False
    deleted: bool = False
    decision_id: str | None = None
    user_id: int | None = None  # storage key of the author, for "from @bob" filters

    @property
    def source_id(self) -> str:
        return f"message:{self.id}"

    @property
    def is_own_reply(self) -> bool:
        """whybot's own answers are never evidence for new answers (no echo chamber)."""
        return self.decision_id is not None

    @property
    def thread_root(self) -> str:
        """The thread this message belongs to; a top-level message is its own thread."""
        return self.thread_external_id or self.external_id


def message_id(source_id: str) -> int | None:
    """The stored message a `message:<id>` source id names; None for documents and anything else."""
    kind, _, key = source_id.partition(":")
    return int(key) if kind == "message" and key.isdigit() else None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: int
    tenant_id: str
    channel_id: int | None
    path: str
    title: str
    text: str
    url: str | None
    updated_at: datetime
    deleted: bool = False

    @property
    def source_id(self) -> str:
        return f"document:{self.id}"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: str
    tenant_id: str
    channel_external_id: str | None
    user_external_id: str | None
    private: bool
    skill: str
    rationale: dict[str, Any]
    reply: dict[str, Any]
    posted_ref: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: int
    tenant_id: str
    platform: str
    channel_external_id: str
    cron: str
    tz: str
    description: str
    top_n: int
    created_by: str
    active: bool
    reference: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None = None

    @property
    def since(self) -> datetime:
        """When the current schedule took effect: no slot before this is owed."""
        return max(self.created_at, self.updated_at or self.created_at)
