"""Knowledge gaps: the questions whybot declined or that got a 👎, grouped by topic, so an admin sees what
the workspace keeps asking and nobody has written down.

Topics are found, not configured: the questions' words are weighted with TF-IDF and grouped by
agglomerative clustering on cosine distance (scikit-learn), and each group is named by the words that
weigh most in it. Only the questions the viewer may see are clustered, so no topic's name is made of
words from a question the viewer could not read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from bot.engagement import MaySee, everything
from bot.naming import channel_label
from storage import ChannelRecord, QuestionRecord, Storage
from storage.engagement import DECLINED

# Words every question has: they would make unrelated questions look alike.
QUESTION_WORDS = frozenset({
    "anyone", "anybody", "know", "knows", "tell", "please", "need", "want", "does", "did", "doing", "thanks",
    "hi", "hey", "hello", "whybot", "just", "like", "ok", "okay", "where", "find", "mean", "means", "happened",
    "happening", "going", "currently", "latest", "today", "yesterday", "week", "ask", "question", "remind",
})
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | QUESTION_WORDS)
DISTANCE = 0.8  # average cosine distance under which questions share a topic (1.0: no word in common)
LABEL_TERMS = 3
OTHER = "other questions"
_NOISE = re.compile(r"<[^>]*>|https?://\S+")  # mentions, channel links and URLs are not topics


class Gap(BaseModel):
    decision_id: str
    question: str
    asked_at: datetime
    channel_id: str | None = None
    channel_name: str = Field(description="'#name', 'a direct message' or 'a group chat'")
    reasons: list[Literal["declined", "unhelpful"]]


class GapTopic(BaseModel):
    label: str = Field(description="the topic's top words, e.g. 'vpn · reset · password'")
    terms: list[str] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list, description="newest first")


class KnowledgeGaps(BaseModel):
    start: datetime
    end: datetime
    topics: list[GapTopic] = Field(default_factory=list, description="largest first")

    @property
    def count(self) -> int:
        return sum(len(t.gaps) for t in self.topics)


def where_asked(channel: ChannelRecord | None) -> str:
    if channel is None:
        return "a conversation"
    if channel.kind == "dm":
        return "a direct message"
    if channel.kind == "group":
        return "a group chat"
    return channel_label(channel.name, "a channel")


def _clean(text: str) -> str:
    return _NOISE.sub(" ", text)


def _label(members: Sequence[int], matrix: np.ndarray, vocabulary: np.ndarray) -> list[str]:
    """The heaviest words of a group; in a group of several, only words at least two questions share."""
    sums = matrix[list(members)].sum(axis=0)
    if len(members) > 1:
        shared = (matrix[list(members)] > 0).sum(axis=0) >= 2
        if shared.any():
            sums = np.where(shared, sums, 0.0)
    order = [i for i in np.argsort(-sums, kind="stable") if sums[i] > 0][:LABEL_TERMS]
    return [str(vocabulary[i]) for i in order]


def group_questions(texts: Sequence[str]) -> list[tuple[list[str], list[int]]]:
    """(top words, indices of `texts`) per topic, largest first; questions without a topical word go to one
    group with no words."""
    if not texts:
        return []
    vectorizer = TfidfVectorizer(stop_words=STOP_WORDS, sublinear_tf=True, lowercase=True,
                                 token_pattern=r"(?u)\b[^\W\d_][\w-]+\b")
    try:
        matrix = vectorizer.fit_transform([_clean(t) for t in texts]).toarray()
    except ValueError:  # not one topical word in any question
        return [([], list(range(len(texts))))]
    vocabulary = vectorizer.get_feature_names_out()
    worded = [i for i in range(len(texts)) if matrix[i].any()]
    wordless = [i for i in range(len(texts)) if not matrix[i].any()]
    clusters: dict[int, list[int]] = {}
    if len(worded) == 1:
        clusters[0] = worded
    elif worded:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=DISTANCE, metric="cosine",
                                         linkage="average").fit_predict(matrix[worded])
        for index, label in zip(worded, labels, strict=True):
            clusters.setdefault(int(label), []).append(index)
    groups = [(_label(members, matrix, vocabulary), members) for members in clusters.values()]
    groups.sort(key=lambda g: (-len(g[1]), min(g[1])))
    if wordless:
        groups.append(([], wordless))
    return groups


def topics(gaps: Sequence[Gap]) -> list[GapTopic]:
    """`gaps` (newest first) grouped by topic."""
    grouped = group_questions([g.question for g in gaps])
    return [GapTopic(label=" · ".join(terms) or OTHER, terms=terms, gaps=[gaps[i] for i in sorted(members)])
            for terms, members in grouped]


async def knowledge_gaps(storage: Storage, tenant_id: str, start: datetime, end: datetime, *,
                         may_see: MaySee = everything) -> KnowledgeGaps:
    """This window's declined or 👎 questions that `may_see` admits, grouped by topic."""
    candidates: list[QuestionRecord] = [q for q in await storage.engagement.gap_candidates(tenant_id, start, end)
                                        if may_see(q.audience)]
    channels = {c.external_id: c for c in await storage.workspace.channels(
        tenant_id, {q.channel_external_id for q in candidates if q.channel_external_id})}
    gaps = [Gap(decision_id=q.decision_id, question=q.question or "(the question was not recorded)",
                asked_at=q.created_at, channel_id=q.channel_external_id,
                channel_name=where_asked(channels.get(q.channel_external_id or "")),
                reasons=[*(["declined"] if q.outcome == DECLINED else []),
                         *(["unhelpful"] if q.unhelpful else [])])
            for q in candidates]
    return KnowledgeGaps(start=start, end=end, topics=topics(gaps))
