"""Text handling shared by retrieval, the extractive generator and the classifier.

One tokenizer everywhere, so a term the rationale says "matched" is the same term the index scored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"[\w][\w'\-]*[\w]|[\w]", re.UNICODE)
_CONTRACTION = re.compile(r"['’](s|re|ll|ve|d|m|t)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SLACK_MARKUP = re.compile(r"<([@#!][^>|]*)(?:\|([^>]*))?>")
_LINK_MARKUP = re.compile(r"<(https?://[^>|]+)(?:\|([^>]*))?>")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")  # bot.markup's token delimiters live here
_URL = re.compile(r"https?://\S+")
_ENDS_ASKING = re.compile(r"\?\s*$")
_ME_TOO = re.compile(r"^\W*(\+1|me too|same( here| question)?|following|bump|also wondering|following along)\b",
                     re.IGNORECASE)

STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN) | frozenset(
    {"whybot", "please", "pls", "hey", "hi", "hello", "thanks", "thank", "know", "tell", "anyone", "does",
     "did", "do", "can", "could", "would", "should", "we", "our", "us", "i", "me", "my", "you", "your",
     "what", "when", "where", "who", "why", "how", "which", "s", "t", "re", "ve", "ll", "d", "m"}
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, keeping in-word apostrophes and hyphens."""
    return [_CONTRACTION.sub("", w.lower()) for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning; numbers count only when they look like codes (503, 2024)."""
    return [w for w in words(text) if (w.isdigit() and len(w) >= 3) or (not w.isdigit() and w not in STOPWORDS)]


def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """Index terms: content words, stemmed. Used for both documents and queries."""
    stemmer = _stemmer()
    return [str(t) for t in stemmer.stemWords(content_words(text))]


def surface_terms(text: str) -> dict[str, str]:
    """Map each index term of `text` to the first word that produced it, for readable rationales."""
    mapping: dict[str, str] = {}
    for word in content_words(text):
        mapping.setdefault(stem(word), word)
    return mapping


def is_question(text: str) -> bool:
    """Ends with a question mark: a message that asks rather than tells."""
    return bool(_ENDS_ASKING.search(text))


def me_too(text: str) -> bool:
    """A reply that only joins a question ("+1", "same here", "following"): it answers nothing."""
    return bool(_ME_TOO.search(text))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def plain(text: str) -> str:
    """Strip Slack-style `<@U1>`, `<#C1|name>` and `<url|label>` markup to readable text. A labelled
    link keeps its address in view ("label (url)"), so a quote can't hide where a link goes."""
    text = _PRIVATE_USE.sub("", text)
    text = _LINK_MARKUP.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) and m.group(2) != m.group(1)
                            else m.group(1), text)
    return _SLACK_MARKUP.sub(lambda m: m.group(2) or m.group(1), text)


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut at a word boundary so snippets never end mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ellipsis


def snippet(text: str, limit: int, ellipsis: str = "…") -> str:
    """About `limit` characters, ending at a sentence end where one is close, else at a word boundary;
    never inside a URL (a URL that would be cut is kept whole, or left out when it is very long)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = shorten(text, limit, ellipsis).removesuffix(ellipsis)
    for url in _URL.finditer(text):
        if url.start() < len(cut) < url.end():
            cut = text[: url.end()] if url.end() <= limit * 2 else text[: url.start()].rstrip()
            break
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", cut)]
    if ends and ends[-1] >= len(cut) * 2 // 3:
        cut = cut[: ends[-1]]
    return cut.rstrip(" ,;:") + " " + ellipsis


@lru_cache(maxsize=4096)
def _term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def overlap(query_terms: Iterable[str], text: str) -> list[str]:
    """Query terms (index form) that occur in `text`, in query order. A question meets the same messages in
    the word, related-word and meaning lists, their threads and the answer: their terms are memoized (it was
    about 65 tokenizations a question)."""
    present = _term_set(text)
    seen: list[str] = []
    for term in query_terms:
        if term in present and term not in seen:
            seen.append(term)
    return seen


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """'1 thread', '3 threads', '1 person', '2 people': titles people read every morning."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def plural(count: int, noun: str) -> str:
    """'1 channel', '12,400 messages': counts people read in status lines and Why?."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
