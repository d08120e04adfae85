"""In-memory shape of a synthetic workspace, before it is written as a Slack export.

Thread generators produce `Draft`s (author, text, gap to the previous message, role); the
generator turns them into timed `Message`s and keeps labels pointing at message indices, so ids
(`channel` + `ts`) only exist once timing is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Person:
    id: str
    name: str  # Slack handle, e.g. "priya.patel"
    first: str
    last: str
    title: str
    team: str
    tz: str
    tz_label: str
    tz_offset: int
    casual: bool  # lower-case, little punctuation
    deleted: bool = False

    @property
    def real_name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(slots=True)
class Bot:
    id: str  # B… bot id
    user_id: str  # U… bot user
    name: str
    emoji: str


@dataclass(slots=True)
class Channel:
    id: str
    name: str
    purpose: str
    members: list[str]
    private: bool = False
    is_general: bool = False
    creator: str = ""
    created: int = 0


@dataclass(slots=True)
class FileSpec:
    name: str
    title: str
    filetype: str
    mimetype: str
    size: int


@dataclass(slots=True)
class Draft:
    author: Person | Bot
    text: str
    gap: float = 0.0  # seconds after the previous message in the thread
    role: str = ""  # "question", "answer", "resolution", "decision", "fact", … (labels point here)
    reactions: tuple[str, ...] = ()  # emoji pool to draw reactions from
    reaction_rate: float = 0.0  # expected reactors as a share of the channel
    files: tuple[FileSpec, ...] = ()
    edited: bool = False
    deleted: bool = False
    broadcast: bool = False
    subtype: str | None = None


@dataclass(slots=True)
class QA:
    """An ask-evaluation item: a paraphrased question and the message indices that answer it."""

    question: str
    asked: int | None  # index of the literal question message in the thread, if any
    answers: tuple[tuple[int | None, int], ...]  # (thread index, None = this thread; draft index)
    facts: tuple[str, ...]  # short strings a correct answer should contain
    key: str = ""  # subject key; a key claimed by several threads makes the question ambiguous (dropped)
    family: str = ""  # kind of question, for paraphrases (offline.synth.paraphrase.FAR)
    slots: dict[str, str] = field(default_factory=dict)  # the subject's names a paraphrase keeps


@dataclass(slots=True)
class Thread:
    kind: str
    channel: Channel
    drafts: list[Draft]
    importance: int
    topic: str = ""
    qa: list[QA] = field(default_factory=list)
    private_facts: list[tuple[int, str, str]] = field(default_factory=list)  # (index, fact, probe question)
    unanswered: str | None = None  # paraphrase of a question nobody answered
    duplicate_of: int | None = None  # index into Workspace.threads
    start: float = 0.0  # epoch seconds of the root, set by the generator
    recent: bool = False


@dataclass(slots=True)
class Reaction:
    name: str
    users: list[str]


@dataclass(slots=True)
class Message:
    channel: Channel
    ts: str
    author: Person | Bot
    text: str
    thread_ts: str | None
    reactions: list[Reaction]
    files: tuple[FileSpec, ...]
    edited_ts: str | None
    subtype: str | None
    replies: list[Message] = field(default_factory=list)  # filled on thread roots only
    parent: Message | None = None  # the thread root, on replies

    @property
    def id(self) -> str:
        return f"{self.channel.id}:{self.ts}"


@dataclass(slots=True)
class Workspace:
    seed: int
    size: str
    team_id: str
    domain: str
    now: float
    people: list[Person]
    bots: list[Bot]
    channels: list[Channel]
    threads: list[Thread]
    messages: list[Message]  # every exported message (deleted ones excluded), by channel then ts
    thread_messages: list[list[Message | None]]  # per thread, per draft: the message (None if deleted)
    deleted: list[tuple[Channel, str, str]]  # (channel, ts, text) removed before export
    utterances: list[tuple[str, str]]  # (text, skill)
    unanswerable: list[str]
