"""What a skill is and what it gets to work with. Skills never see a platform payload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.backends.answerability import AnswerabilityModel
from bot.backends.importance import ImportanceScorer
from bot.backends.llm.base import TextGenerator
from bot.backends.retrieval.base import Retriever
from bot.models import ChatEvent, Conversation, Reader, Reply, Route
from bot.progress import NO_PROGRESS, Progress
from bot.rules import Authority
from bot.settings import Settings
from storage import Storage


class SkillRequest(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    event: ChatEvent
    args: str
    route: Route
    reader: Reader
    tenant_id: str
    conversation: Conversation | None = None  # the earlier turns of this thread, when it continues one
    progress: Progress = Field(default=NO_PROGRESS, exclude=True, description="where to say what is happening")
    authority: Authority | None = Field(default=None, description="whether the asker may change this channel's "
                                                                  "rules (asked of the platform for `settings`)")


@dataclass
class SkillContext:
    """Everything a skill may use, passed in (no globals), so tests can hand in real peers."""

    storage: Storage
    retriever: Retriever
    generator: TextGenerator
    scorer: ImportanceScorer
    answerability: AnswerabilityModel
    settings: Settings
    clock: Callable[[], datetime]


class SkillError(Exception):
    """A problem the user can fix (bad arguments, unknown channel); the message is shown to them."""


class Skill(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...

    @property
    def summary(self) -> str: ...

    @property
    def usage(self) -> tuple[str, ...]: ...

    @property
    def examples(self) -> tuple[str, ...]: ...

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply: ...
