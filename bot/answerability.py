"""The evidence ask weighs before answering, as named features, and the decision in plain words.

Everything here is what the search already knows about a question and its top matches: how much of the
question's subject the best match and its thread cover (rare words count for more), which key words no match
has at all, whether the top matches agree on one thread, whether the best match is itself a question and
whether a reply in its thread reads like the kind of answer asked for. The model in
`bot.backends.answerability` weighs them; this module computes them and says why, so the Why? of an answer
or a decline reads "the best match covers 2 of the 3 key words" rather than a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot import text as textlib
from bot.answers import AnswerKind
from bot.backends.answerability import FEATURES, AnswerabilityModel
from bot.backends.llm.base import Passage
from bot.backends.retrieval.base import Hit, weighted_coverage
from bot.models import Answerability

MAX_COUNTED = 4  # missing key words stop mattering beyond this (one long question must not dominate)


@dataclass(frozen=True, slots=True)
class Signals:
    """The feature values and the facts behind them, for the words."""

    features: dict[str, float]
    key_words: list[str] = field(default_factory=list)  # surface forms, question order
    best_covers: list[str] = field(default_factory=list)
    stated_covers: list[str] = field(default_factory=list)  # the best quotable statement's (or its question's)
    stated_via: bool = False  # that statement is a reply brought in from a matching message's thread
    thread_covers: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    in_best_thread: int = 0
    shown: int = 0
    by_meaning: bool = False


def _thread_key(hit: Hit) -> tuple[str, str]:
    m = hit.message
    return (m.channel_external_id, m.thread_root) if m is not None else ("doc", hit.source_id)


def _support(hit: Hit, weights: dict[str, float], floor: float) -> tuple[float, bool]:
    lexical = weighted_coverage(hit.matched_terms, weights)
    semantic = hit.semantic_score if hit.semantic_score is not None and hit.semantic_score >= floor else 0.0
    return max(lexical, semantic), semantic > lexical


def signals(hits: Sequence[Hit], passages: Sequence[Passage], via: dict[int, int], weights: dict[str, float],
            surface: dict[str, str], kinds: Sequence[AnswerKind], floor: float) -> Signals:
    """The features of one search: `hits` ranked as ask shows them (passage n is hit n), `via` maps each reply
    brought in from a matching thread to the hit it came through, `weights` are the question's subject
    weights (idf, answer-kind words turned down), `floor` the similarity from which meaning counts."""
    key = [t for t in weights if not any(k.asks.search(surface.get(t, t)) for k in kinds)] or list(weights)
    words = [surface.get(t, t) for t in key]
    if not hits:
        features = dict.fromkeys(FEATURES, 0.0) | {"key_words_missing": float(min(len(key), MAX_COUNTED))}
        return Signals(features, key_words=words, missing=words)
    supports = [_support(h, weights, floor) for h in hits]
    # On equal support a statement is the best match, not a question: "asked before, never answered" must not
    # outweigh a message that states the answer in as many of the question's words.
    asks = [textlib.is_question(h.text) for h in hits]
    best = max(range(len(hits)), key=lambda i: (supports[i][0], not asks[i], -i))
    best_thread = _thread_key(hits[best])
    matched: dict[tuple[str, str], set[str]] = {}
    for h in hits:
        matched.setdefault(_thread_key(h), set()).update(h.matched_terms)
    reply_found = False
    by_number = {p.number: p for p in passages}
    # What a quote could stand for: a statement its own support, a reply brought in from a matching message's
    # thread that message's (questions and "+1"s state nothing, so they stand for nothing).
    stands = {n: n for n in range(1, len(hits) + 1)}  # passage -> the hit whose support it has
    for number, through in via.items():
        passage = by_number.get(number)
        if passage is None or not 0 < through <= len(hits):
            continue
        stands[number] = through
        where = _thread_key(hits[through - 1])
        matched.setdefault(where, set()).update(textlib.overlap(weights, passage.text))
        reply_found = reply_found or where == best_thread
    thread_cover = {t: weighted_coverage(list(s), weights) for t, s in matched.items()}
    top_thread = max(thread_cover, key=lambda t: (thread_cover[t], t == best_thread))
    union = set().union(*matched.values())
    s1 = hits[0].score
    s2 = hits[1].score if len(hits) > 1 else 0.0
    in_best = sum(1 for h in hits if _thread_key(h) == best_thread)
    missing = [surface.get(t, t) for t in key if t not in union]
    stated = [(supports[hit - 1][0], n) for n, hit in stands.items() if n in by_number
              and not textlib.is_question(by_number[n].text) and not textlib.me_too(by_number[n].text)]
    statement, quotable = max(stated, default=(0.0, 0))
    best_is_question = asks[best]
    features = {
        "statement_coverage": statement,
        "only_asked": max(0.0, supports[best][0] - statement),
        "thread_extra": max(0.0, thread_cover[top_thread] - supports[best][0]),
        "key_words_missing": float(min(len(missing), MAX_COUNTED)),
        "same_thread": (in_best - 1) / (len(hits) - 1) if len(hits) > 1 else 0.0,
        "score_gap": max(0.0, min(1.0, 1.0 - s2 / s1)) if s1 > 0 else 0.0,
        "reply_found": 1.0 if reply_found else 0.0,
        "unanswered_question": 1.0 if best_is_question and not reply_found else 0.0,
    }
    behind = hits[stands[quotable] - 1] if quotable else None
    stated_covers = [surface.get(t, t) for t in key if behind and t in set(behind.matched_terms)]
    return Signals({k: round(v, 4) for k, v in features.items()}, key_words=words,
                   best_covers=[surface.get(t, t) for t in key if t in set(hits[best].matched_terms)],
                   stated_covers=stated_covers,
                   stated_via=bool(quotable and stands[quotable] != quotable),
                   thread_covers=[surface.get(t, t) for t in key if t in matched[top_thread]],
                   missing=missing, in_best_thread=in_best, shown=len(hits), by_meaning=supports[best][1])


def quoting(s: Signals, quoted: float) -> Signals:
    """The same signals as if `quoted` were the best statement: for re-judging what the generator actually
    quoted (it may skip the best statement and quote a weaker one)."""
    coverage = s.features.get("statement_coverage", 0.0) + s.features.get("only_asked", 0.0)
    features = s.features | {"statement_coverage": round(quoted, 4),
                             "only_asked": round(max(0.0, coverage - quoted), 4)}
    return replace(s, features=features)


def _listed(words: Sequence[str], limit: int = 3) -> str:
    shown = [f"“{w}”" for w in words[:limit]]
    more = len(words) - limit
    if more > 0:
        shown.append(f"{more} more")
    return ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1] if shown else ""


def in_words(name: str, s: Signals) -> str:
    """One feature as a person would say it, from the facts behind it."""
    n = len(s.key_words)
    f = s.features
    if name == "statement_coverage":
        if f.get(name, 0.0) <= 0:
            return "nothing I could quote states anything about it"
        if s.by_meaning and not s.stated_covers:
            return "the best statement I could quote is close in meaning to the question"
        what = ("the best reply I could quote answers a message that covers" if s.stated_via
                else "the best statement I could quote covers")
        return f"{what} {len(s.stated_covers)} of the {textlib.plural(n, 'key word')}"
    if name == "only_asked":
        if f.get(name, 0.0) <= 0:
            return "what I could quote covers as much of the question as the best match"
        if not s.best_covers:
            return "the best match asks a question rather than answering one"
        return (f"the best match covers {len(s.best_covers)} of the {textlib.plural(n, 'key word')} but only "
                "asks it")
    if name == "thread_extra":
        return (f"only the messages of one thread together cover {len(s.thread_covers)} of the "
                f"{textlib.plural(n, 'key word')}, no single message does" if f.get(name, 0.0) > 0
                else "no thread covers more of the question than its best message")
    if name == "key_words_missing":
        if not s.missing:
            return "every key word appears in the matches"
        verb = "appears" if len(s.missing) == 1 else "appear"
        return f"{_listed(s.missing)} {verb} in none of the matches"
    if name == "same_thread":
        return f"{s.in_best_thread} of the top {s.shown} matches are in the same thread"
    if name == "score_gap":
        return "the top match scores " + ("well above the next" if f.get(name, 0.0) >= 0.2
                                          else "about the same as the next")
    if name == "reply_found":
        return ("a reply in the best match's thread reads like an answer" if f.get(name)
                else "no reply in the best match's thread reads like an answer")
    if name == "unanswered_question":
        return ("the best match is a question nobody in its thread answered" if f.get(name)
                else "the best match is not a question left unanswered")
    return name.replace("_", " ")


# A floor under the model: it learned from synthetic workspaces that a lone strong match with a reply often
# answers even when it shares few of the question's words, which a real team's unrelated thread can mimic
# ("what is the parking policy for bicycles?" scored 0.97 on the demo with neither word in any match). Below a
# quarter of the key words covered by what would be quoted, never answer. A fifth until the built-in vectors:
# their fit weighs missing key words little, and "what is the Q3 reorg plan?" (the demo's private-channel
# example) was answered from "the API is on every plan" (covering a fifth). A quarter costs about 2 points of
# false declines (QUALITY.md) and stops answers that only share the question's commonest word.
MIN_STATEMENT_COVERAGE = 0.25
TOO_LITTLE = "what I could quote covers less than a quarter of the question's key words"


def judge(model: AnswerabilityModel, s: Signals, *, threshold: float | None = None, reasons: int = 3
          ) -> Answerability:
    """The model's decision on these signals, with its strongest reasons (a feature that counts for the
    decision it made first, then the strongest one against)."""
    score, contributions = model.score(s.features)
    needed = model.threshold if threshold is None else threshold
    too_little = s.features.get("statement_coverage", 0.0) < MIN_STATEMENT_COVERAGE
    answered = score >= needed and not too_little
    ordered = sorted((k for k, v in contributions.items() if abs(v) >= 0.05), key=lambda k: -abs(contributions[k]))
    agreeing = [k for k in ordered if (contributions[k] > 0) == answered]
    if "only_asked" in agreeing[:2]:  # "only asks it" already says the question went unanswered
        agreeing = [k for k in agreeing if k != "unanswered_question"]
    against = [k for k in ordered if (contributions[k] > 0) != answered]
    chosen = agreeing[: reasons - 1] + against[:1] if against else agreeing[:reasons]
    if not chosen:  # nothing counted: say what the weightiest feature found (e.g. nothing to quote at all)
        chosen = sorted((k for k in model.weights if k in s.features), key=lambda k: -abs(model.weights[k]))[:1]
    said: list[str] = [TOO_LITTLE] if too_little and score >= needed else []
    for k in chosen:
        line = in_words(k, s)
        if line not in said:
            said.append(line)
    return Answerability(answered=answered, score=round(score, 4), threshold=needed, model=model.version,
                         features=s.features, contributions={k: round(v, 4) for k, v in contributions.items()},
                         reasons=said)


def summary(a: Answerability, *, brief: bool = False) -> str:
    """"yes (0.82; I answer from 0.40): the best match covers 2 of the 3 key words; …"; `brief`, for the Why?
    people read in a chat bubble: the verdict and its main reason, no scores ("yes: the best match covers …")."""
    verdict = "yes" if a.answered else "no"
    if brief:
        return f"{verdict}: {a.reasons[0]}" if a.reasons else verdict
    why = "; ".join(a.reasons) if a.reasons else "nothing in the matches counted either way"
    overruled = ", but a rule declined" if not a.answered and a.score >= a.threshold else ""
    line = f"{verdict} ({a.score:.2f}; I answer from {a.threshold:.2f}{overruled}): {why}"
    return f"{line}; {a.note}" if a.note else line


def verdict(a: Answerability) -> str:
    """The score against the threshold in words, for a decline's caveat. A rule can decline a score that
    clears the threshold (too little of the question quoted): then say so rather than "0.80 is below 0.71"."""
    if a.score < a.threshold:
        return f"answerability {a.score:.2f} is below {a.threshold:.2f}"
    return f"answerability {a.score:.2f} reaches {a.threshold:.2f}, but a rule declines"
