"""The platform-neutral seam: every adapter produces `ChatEvent`s and renders `Reply`s.

Adapters own the raw payloads; the core only ever sees these models, so a skill written once
answers on the playground, Slack and Teams alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Platform(StrEnum):
    PLAYGROUND = "playground"
    SLACK = "slack"
    TEAMS = "teams"


class ConversationKind(StrEnum):
    CHANNEL = "channel"
    GROUP = "group"
    DM = "dm"


class Trigger(StrEnum):
    MENTION = "mention"
    COMMAND = "command"
    MESSAGE = "message"
    ACTION = "action"
    SCHEDULE = "schedule"
    UNASKED = "unasked"  # a top-level question in a channel, not addressed to whybot: answered only where
    #                      the channel's rule says so (bot/rules.py AnswerMode.QUESTIONS)


class DigestRequest(BaseModel):
    """A scheduled digest slot, as the scheduler asks for it (no text to parse)."""

    model_config = ConfigDict(frozen=True)

    hours: int = Field(ge=1, le=999, description="the window: since the previous slot, up to now")
    top_n: int = Field(ge=1, le=50)
    slot: datetime = Field(description="the scheduled time this digest stands for (UTC)")
    late: bool = False


class ChatEvent(BaseModel):
    """One thing a person (or the scheduler) asked of the bot, with the bot mention already removed."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    tenant: str = Field(description="Slack team id, Teams tenant id, or the playground workspace")
    channel: str = Field(description="platform channel/conversation id")
    conversation_kind: ConversationKind = ConversationKind.CHANNEL
    user: str = Field(description="platform user id of the person asking")
    text: str = ""
    thread_id: str | None = None
    message_id: str | None = None
    trigger: Trigger = Trigger.MENTION
    command: str | None = Field(default=None, description="explicit skill name, e.g. from /whybot ask")
    args: str = ""
    private_reply: bool = Field(
        default=False, description="the answer is shown only to `user` (ephemeral, DM, personal chat)"
    )
    event_id: str | None = Field(default=None, description="platform delivery id, used for dedupe")
    digest: DigestRequest | None = Field(default=None, description="set by the scheduler for a due digest slot")
    viewing_channel: str | None = Field(
        default=None, description="the channel the person is looking at while asking (Slack's assistant and agent "
                                  "views): the default scope when the question names none, if the reader may see it"
    )
    received_at: datetime = Field(default_factory=utcnow)
    reference: dict[str, Any] = Field(
        default_factory=dict, description="opaque to the core: what the adapter needs to answer"
    )


class Citation(BaseModel):
    """A source a reply leans on; `number` is the [n] marker used in the body."""

    number: int
    source_id: str = Field(description="'message:<id>' or 'document:<id>'")
    title: str = ""
    permalink: str | None = None
    snippet: str = ""
    channel: str | None = Field(default=None, description="platform channel id the source lives in")
    channel_name: str = Field(default="", description="the channel's stored name, for people ('' if unknown)")
    author: str | None = None
    author_id: str | None = Field(default=None, description="platform user id, so Slack can show the name")
    timestamp: datetime | None = None


class ReplyItem(BaseModel):
    """A ranked entry inside a section (e.g. one digest thread), with its own explanation."""

    text: str
    link: str | None = None
    citation_numbers: list[int] = Field(default_factory=list)
    item_id: str | None = Field(default=None, description="stable id for per-item feedback")
    why: list[str] = Field(default_factory=list, description="short lines explaining this item")


class ReplySection(BaseModel):
    title: str = ""
    text: str = ""
    items: list[ReplyItem] = Field(default_factory=list)


class FollowUp(BaseModel):
    """A suggested next command, rendered as a button or hint."""

    label: str
    command: str


class RouteKind(StrEnum):
    EXPLICIT = "explicit_command"
    KEYWORD = "keyword_rule"
    CLASSIFIER = "classifier"
    FALLBACK = "fallback"


class Route(BaseModel):
    kind: RouteKind
    skill: str
    reason: str
    scores: dict[str, float] = Field(default_factory=dict)
    top_features: dict[str, list[str]] = Field(
        default_factory=dict, description="per skill, the words that pushed the classifier towards it"
    )


class EvidenceItem(BaseModel):
    """One ranked source the skill looked at, with why it ranked where it did."""

    rank: int
    source_id: str
    title: str = ""
    channel: str | None = None
    score: float
    matched_terms: list[str] = Field(default_factory=list)
    contributions: dict[str, float] = Field(default_factory=dict, description="feature -> weight x value")
    used: bool = True
    note: str = ""
    permalink: str | None = None
    channel_name: str = ""
    author: str = ""
    author_id: str | None = None
    lexical_rank: int | None = Field(default=None, description="rank among word (BM25) matches; None: not there")
    semantic_rank: int | None = Field(default=None, description="rank among meaning (embedding) matches")
    semantic_score: float | None = Field(default=None, description="cosine similarity to the question")
    expansion_rank: int | None = Field(default=None, description="rank in the search widened with related words")

    def found_by(self) -> str:
        """'words #2 · meaning #1 (0.71) · related words #3', or 'words #8 · meaning 0.21' when only the words found
        it: which half of hybrid retrieval found it, and the cosine its score used."""
        parts = [f"words #{self.lexical_rank}" if self.lexical_rank else "",
                 f"meaning #{self.semantic_rank}" + (f" ({self.semantic_score:.2f})" if self.semantic_score else "")
                 if self.semantic_rank else
                 # a word match beyond the nearest few by meaning: its cosine still counts in its score
                 f"meaning {self.semantic_score:.2f}" if self.semantic_score is not None else "",
                 f"related words #{self.expansion_rank}" if self.expansion_rank else ""]
        return " · ".join(p for p in parts if p)


class Generator(BaseModel):
    kind: str = Field(description="'llm' or 'extractive'")
    model: str | None = None
    prompt_version: str | None = None
    reason: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    retries: int = 0
    latency_ms: float | None = None
    fallback_from: str | None = Field(default=None, description="the model that failed, when quotes stood in")


class ViewScope(BaseModel):
    """The channel the person was looking at when they asked, used as the scope because the question
    named none (Slack's assistant and agent views)."""

    channel: str = Field(description="platform channel id")
    name: str
    widened: bool = Field(default=False, description="nothing there answered, so everything the reader may see "
                                                     "was searched instead")


class Inputs(BaseModel):
    query: str | None = None
    query_terms: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None
    messages_considered: int = 0
    documents_considered: int = 0
    candidates: int = 0
    filters: list[str] = Field(default_factory=list, description='scope taken from the question: "in #incidents"')
    expansion: list[str] = Field(default_factory=list, description="related words added by the vocabulary bridge")
    retrieval: str = Field(default="", description="engine and how its semantic half went")
    viewing: ViewScope | None = Field(default=None, description="the channel in view that scoped the answer")

    def scope_line(self) -> str:
        """One line for operators: filters, expansion and retrieval engine."""
        return (f"filters: {'; '.join(self.filters) or '-'} | expanded with: {', '.join(self.expansion) or '-'}"
                f" | retrieval: {self.retrieval or '-'}")


class ConversationTurn(BaseModel):
    """One earlier question and answer in the same thread, as context for a follow-up."""

    question: str = Field(description="what was asked")
    query: str = Field(default="", description="what was searched for it (the question, or its rewrite)")
    answer: str = Field(default="", description="a snippet of the answer")
    declined: bool = False
    cited: list[str] = Field(default_factory=list, description="source ids the answer cited")
    cited_threads: list[tuple[str, str]] = Field(default_factory=list,
                                                 description="(channel, thread root) of the cited messages")
    listed_threads: list[tuple[str, str]] = Field(
        default_factory=list, description="(channel, thread root) of the closest matches a declined answer listed "
                                          "in its reply and Why?, best first (too weak to cite, but what the "
                                          "asker was shown)")


class Conversation(BaseModel):
    """The earlier turns of the thread a question was asked in, newest first, that its reader may see.
    Loaded once per turn by the pipeline and handed to the skill, so a follow-up is not asked alone."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    turns: list[ConversationTurn] = Field(default_factory=list)

    @property
    def last(self) -> ConversationTurn | None:
        return self.turns[0] if self.turns else None


class ConversationNote(BaseModel):
    """What Why? says about a follow-up: the earlier question it continues and what was searched."""

    continues: str = Field(description="the earlier question")
    asked: str = Field(default="", description="the follow-up as it was asked")
    searched_as: str = Field(description="the standalone query that was searched")
    method: str = Field(default="", description="'llm' (model and prompt version) or how the offline rewrite went")
    preferred: str = Field(default="", description="which earlier sources were preferred, in plain words")


class Answerability(BaseModel):
    """Whether the sources found can answer the question (ask): the model's score against its threshold,
    each feature's contribution, and the strongest reasons in words ("the best match covers 2 of the 3 key
    words")."""

    answered: bool
    score: float = Field(description="probability that the sources answer the question")
    threshold: float = Field(description="the score from which the bot answers")
    model: str = Field(default="", description="version of the answerability weights")
    features: dict[str, float] = Field(default_factory=dict)
    contributions: dict[str, float] = Field(default_factory=dict, description="feature -> weight x value")
    reasons: list[str] = Field(default_factory=list, description="strongest contributions first, in words")
    note: str = Field(default="", description="a rule that decided instead of the score, in words")


class Rationale(BaseModel):
    """Why the bot said what it said. Stored under `decision_id`, shown by the Why? button."""

    decision_id: str = ""
    skill: str
    route: Route
    conversation: ConversationNote | None = Field(default=None, description="set when this continues a thread")
    inputs: Inputs = Field(default_factory=Inputs)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    answerability: Answerability | None = Field(default=None, description="ask: why it answered or declined")
    generator: Generator = Field(default_factory=lambda: Generator(kind="extractive"))
    caveats: list[str] = Field(default_factory=list)
    left_out: list[str] = Field(default_factory=list, description="what was not included and why")
    withheld_sources: int = Field(default=0, description="sources hidden because the reader cannot see them")
    rules: list[str] = Field(default_factory=list,
                             description="channel rules and permissions that shaped this reply, in words for Why?")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def declined(self) -> bool:
        """Whether the skill said it could not answer (its "declined: …" caveat)."""
        return any(c.startswith("declined") for c in self.caveats)


class Reply(BaseModel):
    """What a skill answers; adapters render it as Block Kit, an Adaptive Card or HTML."""

    title: str = ""
    body: str = Field(default="", description="markdown subset: **bold**, [text](url), `code`, [n] cites")
    sections: list[ReplySection] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    rationale: Rationale
    private: bool = Field(default=False, description="show only to the asker")
    thread_id: str | None = None
    private_note: str | None = Field(
        default=None, exclude=True,
        description="told to the asker alone (never stored, never in Why?): e.g. that more sources exist in "
                    "channels other readers of the reply cannot see")

    @property
    def decision_id(self) -> str:
        return self.rationale.decision_id


class Reader(BaseModel):
    """Who is looking at something: used to decide which sources may be shown."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    tenant: str
    user: str
    channel: str | None = Field(default=None, description="where the content will be displayed")
    private: bool = Field(default=False, description="only `user` will see it")
