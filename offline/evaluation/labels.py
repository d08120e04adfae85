"""The labels a synthetic workspace ships with (`labels.json`, see `offline.synth.export`), as pydantic
models, plus the look-ups the metrics need (message -> thread, thread -> importance)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from offline.synth.export import LABELS_SCHEMA

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class LabelledThread(BaseModel):
    id: str
    channel: str
    channel_name: str = ""
    kind: str = ""
    importance: int = Field(ge=0, le=3)
    topic: str = ""
    recent: bool = False
    messages: list[str]
    duplicate_of: str | None = None


class Question(BaseModel):
    id: str
    question: str
    asked: str | None = None
    answers: list[str]
    facts: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class Paraphrase(BaseModel):
    id: str
    of: str
    question: str
    answers: list[str]
    facts: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class FollowUp(BaseModel):
    id: str
    of: str
    question: str
    threads: list[str]


class Unanswerable(BaseModel):
    id: str
    question: str


class Utterance(BaseModel):
    text: str
    skill: str


class PrivateFact(BaseModel):
    fact: str
    channel: str
    message: str
    members: list[str]
    probe: str


class Labels(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_: str = Field(alias="schema")
    seed: int | None = None
    size: str | None = None
    team_id: str
    now: datetime
    threads: list[LabelledThread]
    questions: list[Question]
    paraphrases: list[Paraphrase] = Field(default_factory=list)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    unanswerable: list[Unanswerable] = Field(default_factory=list)
    utterances: list[Utterance] = Field(default_factory=list)
    private_facts: list[PrivateFact] = Field(default_factory=list)

    @classmethod
    def load(cls, workspace: Path) -> Labels:
        path = workspace / "labels.json"
        if not path.is_file():
            raise FileNotFoundError(f"{workspace} has no labels.json: evaluate a workspace written by `whybot synth`")
        labels = cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        if labels.schema_ != LABELS_SCHEMA:
            raise ValueError(f"{path}: schema {labels.schema_!r}, expected {LABELS_SCHEMA!r}")
        return labels

    @cached_property
    def thread_of(self) -> dict[str, str]:
        """Message id -> the id (root message id) of the labelled thread it belongs to."""
        return {m: t.id for t in self.threads for m in t.messages}

    @cached_property
    def thread_by_id(self) -> dict[str, LabelledThread]:
        return {t.id: t for t in self.threads}


def message_time(message_id: str) -> float:
    """Epoch seconds of a "<channel>:<ts>" message id."""
    return float(message_id.rpartition(":")[2])


def contains_fact(text: str, fact: str, names: dict[str, str]) -> bool:
    """Whether `text` states `fact`, case-insensitively; a fact that is a mention (`<@U1>`) also counts
    when the person's display name appears, since replies render mentions as names."""
    haystack = _MENTION.sub(lambda m: names.get(m.group(1), m.group(1)), text).lower()
    needle = _MENTION.sub(lambda m: names.get(m.group(1), m.group(1)), fact).lower().strip()
    return bool(needle) and needle in haystack
