"""Is a message nobody addressed to whybot a question for the channel? Conservative on purpose: in a
channel whose rule is to answer questions without a mention, a false "yes" is whybot barging into a
conversation, a false "no" only means somebody has to mention it.

A question for the channel: ends with a question mark, reads like a question (bot/followup.is_question),
has a few words of its own, and is not addressed to someone else (a mention of a person, a reply).
"""

from __future__ import annotations

import re

from bot.followup import is_question

MIN_WORDS = 4
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|<at>|(?<![\w@])@\w")
_SMALL_TALK = re.compile(r"\b(any(one|body)\s+(around|here|there|online|free|up for)|how\s+are\s+(you|u|things)|"
                         r"what'?s\s+up|who'?s\s+(in|around|coming|up for)|lunch|coffee|drinks)\b", re.IGNORECASE)


def asks_the_channel(text: str) -> bool:
    """Whether `text`, said top-level in a channel without mentioning whybot, is a real question."""
    text = text.strip()
    if not text.endswith("?") or not is_question(text):
        return False
    if _MENTION.search(text) or _SMALL_TALK.search(text):
        return False
    return len(re.findall(r"[^\W_]+", text)) >= MIN_WORDS
