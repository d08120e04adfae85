"""Channel rules, the core API for them: whether whybot reads a channel, whether it answers questions asked
there without a mention, and the channel's digest defaults. `/whybot settings` (skills/settings.py), the
pipeline and App Home all read and change rules through `RulesBook`, which returns pydantic models.

Excluding a channel is more than a flag: what was stored from it is deleted (messages, their vectors and
search rows, documents tied to it) and its digest stops. The flag then keeps it that way: the pipeline
stores nothing new from it, and visibility (bot/visibility.py) admits it for no reader, so even a copy
another replica's index still holds is never shown.

Who may change a channel's rules is the platform's to say (`Surface.rules_authority`); people named in
WHYBOT_ADMINS may everywhere.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.backends.retrieval.base import Retriever
from bot.settings import Settings
from storage import ChannelRuleRecord, Storage

DEFAULT_WINDOW_HOURS = 24


class AnswerMode(StrEnum):
    MENTION = "mention"  # answer only when mentioned (and in threads whybot answered in)
    QUESTIONS = "questions"  # also answer top-level questions asked in the channel without a mention


class DigestDefaults(BaseModel):
    """What `digest` without arguments, and a subscription made in the channel, use."""

    model_config = ConfigDict(frozen=True)

    window_hours: int = Field(default=DEFAULT_WINDOW_HOURS, ge=1, le=24 * 90)
    top_n: int = Field(ge=1, le=10)
    cron: str | None = Field(default=None, description="croniter expression of the default schedule")
    tz: str | None = None
    description: str | None = Field(default=None, description='the schedule in words: "daily at 09:00"')

    @property
    def window(self) -> str:
        """The window as the digest grammar writes it ("24h", "7d")."""
        hours = self.window_hours
        return f"{hours // 24}d" if hours % 24 == 0 and hours >= 48 else f"{hours}h"

    def in_words(self) -> str:
        schedule = f"{self.description} ({self.tz or 'UTC'})" if self.cron and self.description else "no schedule"
        return f"top {self.top_n} threads of the last {self.window}, {schedule}"


class ChannelRules(BaseModel):
    """One channel's rules, defaults filled in."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    channel: str
    excluded: bool = False
    excluded_by: str | None = None
    excluded_at: datetime | None = None
    answer: AnswerMode = AnswerMode.MENTION
    digest: DigestDefaults
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def answers_unasked(self) -> bool:
        return not self.excluded and self.answer == AnswerMode.QUESTIONS

    def lines(self) -> list[str]:
        """The rules in a few plain lines (markdown subset), for the settings reply and App Home."""
        if self.excluded:
            reading = "**Reading:** no. This channel is excluded: I keep nothing said here, never answer from it, " \
                      "and answer nothing here but `settings`"
        else:
            reading = "**Reading:** yes, I read this channel and may answer from it where its readers could see it"
        answering = ("**Answering:** when mentioned, and questions asked here without a mention"
                     if self.answer == AnswerMode.QUESTIONS else "**Answering:** only when mentioned (or in a thread "
                                                                 "I answered in)")
        return [reading, answering, f"**Digest defaults:** {self.digest.in_words()}"]


class Authority(BaseModel):
    """Whether a person may change a channel's rules, and who may, in words for a refusal."""

    model_config = ConfigDict(frozen=True)

    may_change: bool
    who: str = Field(description='who may change rules here: "the channel\'s creator and workspace admins"')
    because: str = Field(default="", description="why this person may or may not, for Why?")


class Exclusion(BaseModel):
    """What excluding a channel removed."""

    model_config = ConfigDict(frozen=True)

    rules: ChannelRules
    messages_removed: int
    documents_removed: int
    digest_stopped: bool


def admins(settings: Settings) -> frozenset[str]:
    """People named in WHYBOT_ADMINS (platform user ids), who may change any channel's rules."""
    return frozenset(x.strip() for x in settings.admins.split(",") if x.strip())


class RulesBook:
    """Reads and changes channel rules. Stateless: build one wherever storage is at hand."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def _model(self, tenant_id: str, channel: str, row: ChannelRuleRecord | None) -> ChannelRules:
        default_top = max(1, min(self.settings.digest_top_n, 10))
        if row is None:
            return ChannelRules(tenant_id=tenant_id, channel=channel, digest=DigestDefaults(top_n=default_top))
        digest = DigestDefaults(window_hours=row.digest_window_hours or DEFAULT_WINDOW_HOURS,
                                top_n=row.digest_top_n or default_top, cron=row.digest_cron, tz=row.digest_tz,
                                description=row.digest_description)
        mode = AnswerMode.QUESTIONS if row.answer_mode == AnswerMode.QUESTIONS else AnswerMode.MENTION
        return ChannelRules(tenant_id=tenant_id, channel=channel, excluded=row.excluded, excluded_by=row.excluded_by,
                            excluded_at=row.excluded_at, answer=mode, digest=digest, updated_by=row.updated_by or None,
                            updated_at=row.updated_at)

    async def get(self, tenant_id: str, channel: str) -> ChannelRules:
        return self._model(tenant_id, channel, await self.storage.channel_rules.get(tenant_id, channel))

    async def for_tenant(self, tenant_id: str) -> list[ChannelRules]:
        """Every channel whose rules differ from the defaults (App Home lists these)."""
        return [self._model(tenant_id, r.channel_external_id, r)
                for r in await self.storage.channel_rules.for_tenant(tenant_id)]

    async def exclude(self, tenant_id: str, channel: str, *, by: str, now: datetime,
                      retriever: Retriever) -> Exclusion:
        """Stop reading the channel and delete what is stored from it. The flag is set first, so the pipeline
        refuses what arrives from now on; a message another worker was storing at this very moment may
        outlive the deletion, but the flag keeps it out of every search and reply (bot/visibility.py)."""
        row = await self.storage.channel_rules.change(tenant_id, channel, by=by, at=now, excluded=True,
                                                      excluded_by=by, excluded_at=now)
        messages, documents = await self.storage.messages.delete_channel(tenant_id, channel)
        await retriever.forget_tenant(tenant_id)  # this process's index reloads without them
        stopped = await self.storage.subscriptions.deactivate(tenant_id, channel, now)
        return Exclusion(rules=self._model(tenant_id, channel, row), messages_removed=messages,
                         documents_removed=documents, digest_stopped=stopped)

    async def include(self, tenant_id: str, channel: str, *, by: str, now: datetime) -> ChannelRules:
        row = await self.storage.channel_rules.change(tenant_id, channel, by=by, at=now, excluded=False,
                                                      excluded_by=None, excluded_at=None)
        return self._model(tenant_id, channel, row)

    async def set_answer_mode(self, tenant_id: str, channel: str, mode: AnswerMode, *, by: str,
                              now: datetime) -> ChannelRules:
        row = await self.storage.channel_rules.change(tenant_id, channel, by=by, at=now, answer_mode=mode.value)
        return self._model(tenant_id, channel, row)

    async def set_digest_defaults(self, tenant_id: str, channel: str, defaults: DigestDefaults, *, by: str,
                                  now: datetime) -> ChannelRules:
        row = await self.storage.channel_rules.change(
            tenant_id, channel, by=by, at=now, digest_window_hours=defaults.window_hours,
            digest_top_n=defaults.top_n, digest_cron=defaults.cron, digest_tz=defaults.tz,
            digest_description=defaults.description)
        return self._model(tenant_id, channel, row)
