"""Explainable thread importance for digests: a logistic model over named features.

Each thread's score is sigmoid(bias + sum(weight x value)); the per-feature products are the
"contributions" the Why? shows. Weights ship as a small versioned JSON file; `whybot train digest`
refits them on synthetic labelled workspaces. Cues are regular expressions, not a tokenizer, so a
24-hour window of 50,000 messages ranks in well under a second.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from storage import MessageRecord

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "digest.json"

_CUES: dict[str, re.Pattern[str]] = {
    "decision_cue": re.compile(r"\b(decided|decision|agreed|we(?:'ll| will) go with|approved|final call|settled on)\b"),
    "incident_cue": re.compile(r"\b(incident|outage|(?:is|went|are) down|sev[ -]?[0-3]|p[0-2]|rollback|"
                               r"rolled back|postmortem|degraded|5\d\ds?|paged)\b"),
    "question_cue": re.compile(r"\?|\b(does anyone know|how do (?:i|we)|anyone know|where is|what is)\b"),
    "action_cue": re.compile(r"\b(action items?|todo|to-do|can you|could you|please|assign(?:ed)?|owner|"
                             r"follow[- ]up)\b"),
    "deadline_cue": re.compile(r"\b(deadline|due|by (?:mon|tue|wed|thu|fri|eod|end of)\w*|tomorrow|next week|"
                               r"cutoff|cut-off|freeze)\b"),
}
_WORK_CUES = frozenset(("decision_cue", "incident_cue", "action_cue", "deadline_cue"))
_CHITCHAT = re.compile(r"\b(lol|haha|lunch|coffee|weekend|cat|dog|memes?|happy birthday|congrats|🎉|😂)\b")
_LINK = re.compile(r"https?://|<http")

FEATURES: tuple[str, ...] = (
    "replies", "participants", "reactions", "mentions", "decision_cue", "incident_cue", "question_cue",
    "action_cue", "deadline_cue", "unanswered_question", "links_files", "recency", "bot_authored", "chitchat",
)


@dataclass(slots=True)
class ThreadView:
    """A thread as the ranker sees it: root first, then replies."""

    channel_external_id: str
    root_external_id: str
    messages: list[MessageRecord]

    @property
    def root(self) -> MessageRecord:
        return self.messages[0]

    @property
    def last_at(self) -> datetime:
        return self.messages[-1].created_at


@dataclass(slots=True)
class Scored:
    thread: ThreadView
    score: float
    features: dict[str, float]
    contributions: dict[str, float]
    adjusted_by_channel: bool = False

    def top_factors(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(((k, v) for k, v in self.contributions.items() if v), key=lambda kv: -abs(kv[1]))[:n]


def group_threads(messages: Sequence[MessageRecord]) -> list[ThreadView]:
    """Group a window's messages by thread, oldest first; replies whose root is outside the window
    still form a thread of their own."""
    threads: dict[tuple[str, str], ThreadView] = {}
    for m in messages:
        key = (m.channel_external_id, m.thread_root)
        view = threads.get(key)
        if view is None:
            threads[key] = ThreadView(m.channel_external_id, m.thread_root, [m])
        else:
            view.messages.append(m)
    return list(threads.values())


def thread_features(thread: ThreadView, window_end: datetime, window_hours: float) -> dict[str, float]:
    """The named feature values of one thread; one pass over its messages and a few regex scans of its
    text, since this runs for every thread in the window."""
    msgs = thread.messages
    root = msgs[0]
    humans = 0
    answered = False
    files = False
    users: set[str] = set()
    reactions = mention_count = reply_count = 0
    for m in msgs:
        reactions += m.reaction_count
        mention_count += m.mention_count
        reply_count = max(reply_count, m.reply_count)
        files = files or m.file_count > 0
        if not m.is_bot:
            humans += 1
            if m.user_external_id:
                users.add(m.user_external_id)
                answered = answered or (m is not root and m.user_external_id != root.user_external_id)
    joined = "\n".join([m.text for m in msgs]).lower()
    replies = max(len(msgs) - 1, reply_count)
    participants = len(users)
    mentions = mention_count + joined.count("<@")
    cues = {name: 1.0 if pattern.search(joined) else 0.0 for name, pattern in _CUES.items()}
    is_question = cues["question_cue"] and bool(_CUES["question_cue"].search(root.text.lower()))
    age_h = max(0.0, (window_end - msgs[-1].created_at).total_seconds() / 3600)
    work = any(cues[k] for k in _WORK_CUES)
    chit = 0 if work else len(_CHITCHAT.findall(joined))
    return {
        "replies": math.log1p(replies),
        "participants": math.log1p(participants),
        "reactions": math.log1p(reactions),
        "mentions": math.log1p(mentions),
        **cues,
        "unanswered_question": 1.0 if is_question and not answered else 0.0,
        "links_files": 1.0 if files or _LINK.search(joined) else 0.0,
        "recency": max(0.0, 1.0 - age_h / max(window_hours, 1.0)),
        "bot_authored": 1.0 if not humans or root.is_bot else 0.0,
        # A question mark doesn't make banter work talk; only the work cues cancel the chit-chat penalty.
        "chitchat": min(1.0, chit / len(msgs)),
    }


@dataclass
class ImportanceScorer:
    weights: dict[str, float]
    bias: float
    version: str
    trained_on: str = "hand-set"
    channel_weights: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> ImportanceScorer:
        data = json.loads(path.read_text())
        return cls(weights={k: float(v) for k, v in data["weights"].items()}, bias=float(data["bias"]),
                   version=str(data["version"]), trained_on=str(data.get("trained_on", "hand-set")))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"version": self.version, "trained_on": self.trained_on, "bias": self.bias,
                                    "weights": self.weights}, indent=2) + "\n")

    def score(self, features: dict[str, float], *, channel_weights: dict[str, float] | None = None
              ) -> tuple[float, dict[str, float]]:
        weights = channel_weights or self.weights
        contributions = {name: weights.get(name, 0.0) * value for name, value in features.items()}
        logit = self.bias + sum(contributions.values())
        return 1.0 / (1.0 + math.exp(-logit)), contributions

    def rank(self, threads: Sequence[ThreadView], window_end: datetime, window_hours: float,
             channel_weights: dict[str, dict[str, float]] | None = None) -> list[Scored]:
        scored: list[Scored] = []
        per_channel = channel_weights or {}
        for thread in threads:
            features = thread_features(thread, window_end, window_hours)
            own = per_channel.get(thread.channel_external_id)
            score, contributions = self.score(features, channel_weights=own)
            scored.append(Scored(thread, round(score, 4), features, contributions, adjusted_by_channel=own is not None))
        scored.sort(key=lambda s: (-s.score, -s.thread.last_at.timestamp()))
        return scored


def global_positions(scorer: ImportanceScorer, ranked: Sequence[Scored]) -> dict[int, int]:
    """Where each item (by `id()`) would stand under the global weights alone, 1-based: the "before"
    against which a channel's own weights are explained."""
    rescored = [(scorer.score(s.features)[0], s.thread.last_at.timestamp(), id(s)) for s in ranked]
    rescored.sort(key=lambda t: (-round(t[0], 4), -t[1]))
    return {key: position for position, (_, _, key) in enumerate(rescored, start=1)}


# What each feature means to a person reading a digest: the reason, said when it pushed a thread up.
FEATURE_WORDS: dict[str, str] = {
    "replies": "a long discussion",
    "participants": "many people replied",
    "reactions": "people reacted",
    "mentions": "people were asked by name",
    "decision_cue": "a decision",
    "incident_cue": "an incident",
    "question_cue": "a question",
    "action_cue": "someone was asked to do something",
    "deadline_cue": "a deadline",
    "unanswered_question": "a question nobody has answered yet",
    "links_files": "links or files",
    "recency": "recent",
    "bot_authored": "posted by a bot",
    "chitchat": "small talk",
}


def feature_label(name: str) -> str:
    """A feature's human name, for admin details too ("deadline cue" reads as jargon; "a deadline" doesn't)."""
    return FEATURE_WORDS.get(name, name.replace("_", " "))


def reasons_in_words(contributions: dict[str, float], n: int = 3) -> list[str]:
    """The two or three things that pushed a thread up, in words; a decision with a deadline is one reason."""
    ups = [k for k, v in sorted(contributions.items(), key=lambda kv: -kv[1]) if v > 0.05]
    if "decision_cue" in ups and "deadline_cue" in ups:
        ups = ["decision_with_deadline", *[k for k in ups if k not in ("decision_cue", "deadline_cue")]]
    words = {**FEATURE_WORDS, "decision_with_deadline": "a decision with a deadline"}
    return [words.get(k, k.replace("_", " ")) for k in ups[:n]]
