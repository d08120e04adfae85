"""Storage: the only package that talks SQL. `Storage` bundles the stores over one `Database`."""

from __future__ import annotations

from dataclasses import dataclass

from storage.channel_rules import ChannelRuleRecord, ChannelRuleStore
from storage.channel_weights import ChannelWeightsRecord, ChannelWeightsStore, ItemVote
from storage.db import Database, DatabaseNotUpgraded, DatabaseUnavailable
from storage.decisions import DecisionStore
from storage.digest_runs import DigestRunRecord, DigestRunStore
from storage.embeddings import EmbeddingStore, StoredVector, text_hash
from storage.engagement import Audience, AudienceCounts, EngagementStore, QuestionRecord
from storage.inbox import InboxRecord, InboxStats, InboxStore, NewTurn
from storage.messages import MessageStore, NewMessage
from storage.rate_limits import Admission, Limit, RateLimitStore
from storage.records import (
    ChannelRecord,
    DecisionRecord,
    DocumentRecord,
    MessageRecord,
    SubscriptionRecord,
    UserRecord,
    message_id,
    tenant_key,
)
from storage.subscriptions import SubscriptionStore
from storage.workspace import WorkspaceStore


@dataclass
class Storage:
    db: Database
    workspace: WorkspaceStore
    messages: MessageStore
    decisions: DecisionStore
    subscriptions: SubscriptionStore
    digest_runs: DigestRunStore
    channel_weights: ChannelWeightsStore
    inbox: InboxStore
    embeddings: EmbeddingStore
    engagement: EngagementStore
    channel_rules: ChannelRuleStore
    rate_limits: RateLimitStore

    @classmethod
    def over(cls, db: Database) -> Storage:
        workspace = WorkspaceStore(db)
        return cls(db, workspace, MessageStore(db, workspace), DecisionStore(db),
                   SubscriptionStore(db), DigestRunStore(db), ChannelWeightsStore(db), InboxStore(db),
                   EmbeddingStore(db), EngagementStore(db), ChannelRuleStore(db), RateLimitStore(db))

    @classmethod
    async def open(cls, url: str, *, auto_upgrade: bool | None = None) -> Storage:
        db = Database(url)
        await db.ensure_schema(auto_upgrade=db.is_sqlite if auto_upgrade is None else auto_upgrade)
        return cls.over(db)

    async def close(self) -> None:
        await self.db.dispose()


__all__ = [
    "Admission",
    "Audience",
    "AudienceCounts",
    "ChannelRecord",
    "ChannelRuleRecord",
    "ChannelWeightsRecord",
    "Database",
    "DatabaseNotUpgraded",
    "DatabaseUnavailable",
    "DecisionRecord",
    "DigestRunRecord",
    "DocumentRecord",
    "EmbeddingStore",
    "EngagementStore",
    "InboxRecord",
    "InboxStats",
    "ItemVote",
    "Limit",
    "MessageRecord",
    "NewMessage",
    "NewTurn",
    "QuestionRecord",
    "Storage",
    "StoredVector",
    "SubscriptionRecord",
    "UserRecord",
    "message_id",
    "tenant_key",
    "text_hash",
]
