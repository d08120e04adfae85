"""The text-generation seam. Skills hand over numbered passages; a generator returns a draft that
cites them by number. The extractive generator is the embedded default; an OpenAI-compatible model
plugs in behind the same protocol and falls back to the extractive one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from bot.models import Conversation, Generator


class Passage(BaseModel):
    """A source as it is shown to a generator: numbered, attributed, quoted as data."""

    number: int
    source_id: str
    text: str
    author: str = ""
    author_id: str | None = None
    channel: str = ""
    timestamp: datetime | None = None
    permalink: str | None = None
    matched_terms: list[str] = Field(default_factory=list)
    score: float = 0.0
    in_reply_to: str = Field(default="", description="the matching message this one answers, for context")
    referred: bool = Field(default=False, description="in a thread the earlier answer cited, so what a follow-up "
                                                      "that points back (\"and who said that?\") refers to")


class Draft(BaseModel):
    text: str
    cited: list[int] = Field(default_factory=list, description="passage numbers the text relies on")
    generator: Generator
    caveats: list[str] = Field(default_factory=list)
    notice: str = Field(default="", description="one plain line for the reply itself: set when this draft is a "
                                                "fallback, so readers know without opening Why?")


def with_notice(body: str, notice: str) -> str:
    """The body with the fallback notice as its own last line (nothing to add when there is no notice)."""
    if not notice:
        return body
    return f"{body.rstrip()}\n\n{notice}" if body.strip() else notice


TextSink = Callable[[str], Awaitable[None]]


class TextGenerator(Protocol):
    name: str

    async def answer(self, question: str, passages: list[Passage], *, on_text: TextSink | None = None) -> Draft:
        """An answer to `question` from `passages` only, citing them as [n]. A generator that writes
        token by token calls `on_text` with the text so far (for streaming to the reader); the draft it
        returns is what counts (checked, cleaned), not the last streamed text."""
        ...

    async def summarize(self, passages: list[Passage], *, focus: str = "", max_points: int = 6) -> Draft:
        """Key points of a conversation, oldest first, each citing its messages."""
        ...

    async def headline(self, passages: list[Passage]) -> Draft:
        """One line that says what a thread is about and where it landed (for digests)."""
        ...


class Rewrite(BaseModel):
    """A follow-up rewritten into a standalone question; `query` is empty when the rewrite failed
    (`reason` says why) and the caller falls back to the offline rewrite."""

    query: str = ""
    generator: Generator
    reason: str = ""


@runtime_checkable
class Rewriter(Protocol):
    """A generator that can turn a follow-up into a standalone question (the OpenAI-compatible one)."""

    async def rewrite(self, question: str, conversation: Conversation) -> Rewrite:
        """`question` as a standalone question, using the earlier turns of `conversation`."""
        ...
