"""What the inbox holds: one typed, platform-neutral turn per delivery, written by an adapter before it
acknowledges and executed once by a worker (bot/pipeline.py). Adapters normalize into these; nothing
platform-shaped is stored here except `reference`, which only the same adapter's surface reads."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from bot.models import ChatEvent, ConversationKind, Platform, Reader
from bot.unanswered import Reason
from storage import NewMessage


class Priority(IntEnum):
    """Lower runs first: a person waiting on a click or a slash command goes before a queue of answers."""

    CLICK = 1
    COMMAND = 2
    MEMBERSHIP = 3
    ANSWER = 5
    HISTORY = 6


class ChannelFacts(BaseModel):
    """What the platform's payload already told us about a channel (Teams); Slack asks its API instead."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    kind: ConversationKind = ConversationKind.CHANNEL
    is_private: bool = False
    audience_scope: str | None = None
    members: list[str] = Field(default_factory=list, description="people known to be in it (added, not replaced)")


class PersonFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: Platform
    tenant: str = Field(description="the platform's workspace / tenant id")


class AnswerTurn(_Base):
    """Somebody asked something (mention, DM, slash command, follow-up button, a welcome)."""

    type: Literal["answer"] = "answer"
    event: ChatEvent
    channel: ChannelFacts | None = None
    person: PersonFacts | None = None
    reference: dict[str, Any] = Field(default_factory=dict, description="a conversation reference to keep")
    unanswerable: Reason | None = Field(default=None, description="addressed to whybot, but nothing it can "
                                                                  "answer (a file, a bot): told why, not answered")


class MessageTurn(_Base):
    """History: a message said, edited, deleted or restored where the bot can see it; perhaps also a question."""

    type: Literal["message"] = "message"
    op: Literal["new", "edit", "delete", "undelete"]
    channel_id: str
    channel_hint: str | None = Field(default=None, description="the platform's word for the channel kind")
    message: NewMessage | None = None
    external_id: str = ""
    text: str = ""
    edited_at: datetime | None = None
    answer: ChatEvent | None = Field(default=None, description="set when the message is also addressed to the bot")
    answer_in_conversation_only: bool = Field(
        default=False, description="answer only if whybot answered in this thread (a plain thread reply), so "
                                   "it never barges into other people's threads")
    unanswerable: Reason | None = Field(default=None, description="addressed to whybot, but nothing it can "
                                                                  "answer (a file, a bot): told why, not answered")
    channel: ChannelFacts | None = None
    person: PersonFacts | None = None
    reference: dict[str, Any] = Field(default_factory=dict)


class ExplainTurn(_Base):
    """Why? or Hide clicked: show or fold the rationale in the same message."""

    type: Literal["explain"] = "explain"
    decision_id: str
    reader: Reader
    expanded: bool
    admin: bool = Field(default=False, description="also show the details for admins (scores, models, ids)")
    reference: dict[str, Any] = Field(default_factory=dict, description="where the clicked message is")


class FeedbackTurn(_Base):
    """👍/👎 on an answer: from our own buttons (they carry the decision id) or from a platform's native
    feedback control, which names only the message it is on (`message_id`, mapped to its decision by where
    replies were posted)."""

    type: Literal["feedback"] = "feedback"
    decision_id: str = ""
    reader: Reader
    helpful: bool
    item_id: str = ""
    comment: str = Field(default="", description="what the person wrote about the answer, if asked")
    message_id: str = Field(default="", description="the platform's id of the message the feedback is on")
    acknowledged: bool = Field(default=False, description="the platform already thanked the person: send nothing")
    reference: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_a_decision(self) -> FeedbackTurn:
        if not self.decision_id and not self.message_id:
            raise ValueError("feedback needs a decision id or the id of the message it is on")
        return self


RuleOp = Literal["exclude", "include", "answer_mentions", "answer_questions"]
RULE_OPS: frozenset[str] = frozenset({"exclude", "include", "answer_mentions", "answer_questions"})


class HomeChange(BaseModel):
    """A change made in someone's home (App Home): a digest subscription (subscribe a channel, reschedule,
    stop) or a channel's rules (exclude or include it, switch its answer mode; the worker checks authority)."""

    model_config = ConfigDict(frozen=True)

    op: Literal["subscribe", "reschedule", "unsubscribe"] | RuleOp
    channel: str = Field(min_length=1, max_length=255)
    schedule: str = Field(default="", max_length=64, description="`daily HH:MM` or `weekly DAY HH:MM`")

    @model_validator(mode="after")
    def _schedule_only_for_digests(self) -> HomeChange:
        if self.schedule and self.op not in ("subscribe", "reschedule"):
            raise ValueError(f"`{self.op}` takes no schedule")
        return self

    @property
    def is_rule(self) -> bool:
        return self.op in RULE_OPS


class HomeTurn(_Base):
    """Someone opened their home, or clicked in it: apply what they changed, then draw it again for them."""

    type: Literal["home"] = "home"
    user: str = Field(min_length=1)
    why: str | None = Field(default=None, max_length=64, description="a decision whose rationale to open there")
    change: HomeChange | None = None


class MembershipTurn(_Base):
    """Somebody (or the bot itself) joined or left a channel."""

    type: Literal["membership"] = "membership"
    channel_id: str
    user: str
    joined: bool
    is_bot: bool = False
    channel_hint: str | None = None
    channel: ChannelFacts | None = None
    person: PersonFacts | None = None
    reference: dict[str, Any] = Field(default_factory=dict)


class UninstallTurn(_Base):
    """The app was removed or its tokens revoked: forget the workspace (unless configured to keep data)."""

    type: Literal["uninstall"] = "uninstall"
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict, description="for the adapter's own clean-up")
    forget_data: bool = True


class OpenedTurn(_Base):
    """Somebody opened a conversation with the bot (Slack's assistant thread or agent DM), or moved to another
    channel while it is open: suggest what they can ask there, greet them when it is new, and remember which
    channel they are looking at (the default scope of what they ask next)."""

    type: Literal["opened"] = "opened"
    channel_id: str = Field(description="the conversation with the bot (a DM)")
    user: str
    thread_id: str | None = Field(default=None, description="the conversation's thread, where it has one")
    viewing_channel: str | None = Field(default=None, description="the channel the person is looking at")
    greet: bool = Field(default=True, description="False when only the channel in view changed")
    reference: dict[str, Any] = Field(default_factory=dict, description="what the adapter needs to answer there")


class DigestTurn(BaseModel):
    """A scheduled digest slot that came due (the digest run row holds the rest)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["digest"] = "digest"
    run_id: int


Turn = Annotated[AnswerTurn | MessageTurn | ExplainTurn | FeedbackTurn | HomeTurn | MembershipTurn | UninstallTurn
                 | OpenedTurn | DigestTurn, Field(discriminator="type")]
TURN: TypeAdapter[Turn] = TypeAdapter(Turn)


def dump(turn: Turn) -> dict[str, Any]:
    return TURN.dump_python(turn, mode="json")


def load(payload: dict[str, Any]) -> Turn:
    return TURN.validate_python(payload)
