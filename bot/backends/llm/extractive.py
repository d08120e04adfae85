"""The embedded generator: quotes the team's own words instead of writing new ones.

It needs no model and no network, never invents a fact, and is what runs when no LLM is configured
or when the LLM is slow or down. Every sentence it picks carries the [n] of the passage it came from.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bot import text as textlib
from bot.answers import AnswerKind, answer_kinds, kind_bonus
from bot.backends.llm.base import Draft, Passage, TextSink
from bot.models import Generator

# Words that mark a message as carrying an outcome rather than chatter; used to pick summary points.
OUTCOME_CUES: dict[str, float] = {
    "decided": 2.0, "decision": 2.0, "agreed": 1.5, "resolved": 2.0, "fixed": 1.5, "fix": 1.0,
    "root": 1.0, "cause": 1.0, "rollback": 1.2, "rolled": 1.0, "shipped": 1.2, "released": 1.2,
    "deadline": 1.5, "due": 1.0, "friday": 0.6, "monday": 0.6, "tomorrow": 0.6, "eod": 0.8,
    "action": 1.0, "todo": 1.0, "will": 0.5, "owner": 1.0, "assign": 1.0, "blocked": 1.0,
    "incident": 1.2, "outage": 1.2, "postmortem": 1.2, "mitigated": 1.5, "because": 0.6,
    "answer": 0.8, "use": 0.3, "should": 0.3, "plan": 0.8, "going": 0.3, "final": 1.0,
}
_CUE_STEMS = {textlib.stem(word): weight for word, weight in OUTCOME_CUES.items()}
PROMPT_VERSION = "extractive-1"


def _generator(reason: str, started: float) -> Generator:
    return Generator(kind="extractive", model=None, prompt_version=PROMPT_VERSION, reason=reason,
                     latency_ms=round((time.perf_counter() - started) * 1000, 2))


@dataclass(frozen=True, slots=True)
class _Sentence:
    passage: Passage
    text: str
    score: float


def _cue_score(text: str) -> float:
    return sum(_CUE_STEMS.get(t, 0.0) for t in set(textlib.terms(text)))


class ExtractiveGenerator:
    name = "extractive"

    def __init__(self, reason: str = "no LLM is configured (OPENAI_API_KEY / OPENAI_BASE_URL unset)") -> None:
        self.reason = reason

    def with_reason(self, reason: str) -> ExtractiveGenerator:
        return ExtractiveGenerator(reason)

    async def answer(self, question: str, passages: list[Passage], *, on_text: TextSink | None = None) -> Draft:
        """Quote up to three sentences that answer; questions only echo the asker, so they never count."""
        started = time.perf_counter()
        query = set(textlib.terms(question))
        weights = self._local_weights(query, passages)
        kinds = answer_kinds(question)
        candidates = [s for p in passages if (s := self._best_sentence(p, weights, kinds)) is not None]
        statements = [s for s in candidates if not textlib.is_question(s.text)]
        if not statements:
            caveat = ("the matching messages only ask this question; nobody answered it" if candidates
                      else "no sentence in the sources contains the question's words")
            return Draft(text="", cited=[], generator=_generator(self.reason, started), caveats=[caveat])
        statements.sort(key=lambda s: -s.score)
        floor = statements[0].score * 0.6
        chosen: list[_Sentence] = []
        for sentence in statements:
            if len(chosen) == 3 or sentence.score < floor:
                break
            if any(c.text == sentence.text for c in chosen):
                continue  # the same words posted twice are one piece of evidence
            chosen.append(sentence)
        dropped = len(statements) - len(chosen)
        caveats = [f"{dropped} weaker matching sentence(s) not quoted (below 60% of the best match)"] if dropped else []
        return Draft(text="\n".join(self._quote(s) for s in chosen), cited=[s.passage.number for s in chosen],
                     generator=_generator(self.reason, started), caveats=caveats)

    @staticmethod
    def _local_weights(query: set[str], passages: list[Passage]) -> dict[str, float]:
        """Rarer question words among the sources weigh more, so 'reorg' beats 'plan'."""
        present = [set(textlib.terms(p.text)) for p in passages]
        total = max(len(passages), 1)
        return {t: 1.0 + math.log(total / (1 + sum(t in terms for terms in present)) + 1) for t in query}

    @staticmethod
    def _best_sentence(passage: Passage, weights: dict[str, float], kinds: list[AnswerKind]) -> _Sentence | None:
        """The passage's most answer-like sentence. A reply in a matching thread borrows most of the
        question words of the message it answers, and sentences of the kind asked for (a cause for
        "what broke", a person for "who") count extra."""
        context = set(textlib.terms(passage.in_reply_to))
        best: _Sentence | None = None
        for sentence in textlib.sentences(textlib.plain(passage.text)) or [passage.text]:
            terms = set(textlib.terms(sentence))
            own = sum(w for t, w in weights.items() if t in terms)
            kind = kind_bonus(kinds, sentence)
            if own <= 0 and kind <= 0 and not passage.referred:
                continue  # context alone makes no answer: "+1, also wondering" borrows words, says nothing
            overlap = own + sum(0.75 * w for t, w in weights.items() if t not in terms and t in context)
            # Outcome words ("decided", "resolved") beat chatter; the retriever's score breaks ties.
            score = overlap * 2.0 + kind * 1.5 + _cue_score(sentence) * 0.3 + passage.score * 0.05
            if best is None or score > best.score:
                best = _Sentence(passage, sentence, score)
        return best

    @staticmethod
    def _quote(sentence: _Sentence) -> str:
        who = sentence.passage.author or "someone"
        where = f" in #{sentence.passage.channel}" if sentence.passage.channel else ""
        return f"> {textlib.shorten(sentence.text, 400)}\n— {who}{where} [{sentence.passage.number}]"

    async def summarize(self, passages: list[Passage], *, focus: str = "", max_points: int = 6) -> Draft:
        started = time.perf_counter()
        if not passages:
            return Draft(text="", cited=[], generator=_generator(self.reason, started))
        focus_terms = set(textlib.terms(focus))
        scored: list[tuple[float, int, Passage, str]] = []
        for position, passage in enumerate(passages):
            body = textlib.plain(passage.text)
            sentences = textlib.sentences(body) or [body]
            sentence = max(sentences, key=lambda s: _cue_score(s) + len(set(textlib.terms(s)) & focus_terms))
            score = _cue_score(body) + 0.3 * min(len(textlib.terms(body)), 20) / 20 + passage.score
            score += 2.0 * len(set(textlib.terms(body)) & focus_terms)
            if position == 0:
                score += 3.0  # the opening message says what the conversation is about
            if position == len(passages) - 1 and len(passages) > 2:
                score += 1.0  # the last word often says where it landed
            scored.append((score, position, passage, sentence))
        top = sorted(scored, key=lambda s: (-s[0], s[1]))[:max_points]
        top.sort(key=lambda s: s[1])
        lines = [f"• *{p.author or 'someone'}*: {textlib.shorten(sentence, 240)} [{p.number}]"
                 for _, _, p, sentence in top]
        left = len(passages) - len(top)
        caveats = ([f"{left} of {len(passages)} messages were not quoted (lower outcome and topic scores)"]
                   if left else [])
        return Draft(text="\n".join(lines), cited=[p.number for _, _, p, _ in top],
                     generator=_generator(self.reason, started), caveats=caveats)

    async def headline(self, passages: list[Passage]) -> Draft:
        started = time.perf_counter()
        if not passages:
            return Draft(text="", generator=_generator(self.reason, started))
        opener = passages[0]
        first = (textlib.sentences(textlib.plain(opener.text)) or [opener.text])[0]
        line = textlib.shorten(first, 140)
        cited = [opener.number]
        later = [(p, _cue_score(p.text)) for p in passages[1:]]
        if later:
            outcome, score = max(later, key=lambda item: (item[1], item[0].number))
            if score >= 1.5:
                sentence = max(textlib.sentences(textlib.plain(outcome.text)) or [outcome.text], key=_cue_score)
                line = f"{textlib.shorten(first, 90)} → {textlib.shorten(sentence, 90)}"
                cited.append(outcome.number)
        return Draft(text=line, cited=cited, generator=_generator(self.reason, started))
