"""Scope and time inside a question: "in #incidents", "from @bob", "yesterday", "last week", "last quarter".

People narrow a search in the same sentence they ask it. These phrases are parsed out, so they
are not searched as words ("incidents", "bob", "week" would only add noise), and become retrieval
filters that the Why? lists. Only unambiguous forms count: a channel needs `#`, a person needs `@`
(or a platform mention), so "deploy from a bastion" or "in prod" stay words of the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.backends.retrieval.base import SearchFilters
from storage import ChannelRecord, UserRecord

_CHANNEL = re.compile(r"\b(?:in|on|from|inside)\s+(?:the\s+)?(?:<#([A-Z0-9]+)(?:\|([^>]*))?>|#([\w\-]+))"
                      r"(?:\s+channel)?", re.IGNORECASE)
_AUTHOR = re.compile(r"\b(?:from|by|said by|written by|posted by)\s+(?:<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|@([\w.\-]+))",
                     re.IGNORECASE)
_NAMED = re.compile(r"\b(?:(?:from|during|in)\s+)?(today|yesterday|this week|last week|past week|this month|"
                    r"last month|this quarter|last quarter|past quarter|this year|last year|past year)\b",
                    re.IGNORECASE)
_SPAN = re.compile(r"\b(?:in\s+|during\s+)?(?:the\s+)?(?:last|past)\s+(\d{1,3})\s*(hours?|days?|weeks?|months?|"
                   r"quarters?|years?)\b", re.IGNORECASE)
_UNIT = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
         "month": timedelta(days=30), "quarter": timedelta(days=91), "year": timedelta(days=365)}


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as written: a platform id (from `<#C1|name>`) and/or a name."""

    external_id: str | None
    name: str | None

    @property
    def label(self) -> str:
        return f"#{self.name or self.external_id}"


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    question: str  # what is left to search for
    channels: tuple[ChannelRef, ...] = ()
    authors: tuple[str, ...] = ()  # user ids (from mentions) or handles, as written
    since: datetime | None = None
    until: datetime | None = None
    time_label: str = ""
    phrases: list[str] = field(default_factory=list)  # the words taken out, in order

    @property
    def any(self) -> bool:
        return bool(self.channels or self.authors or self.since or self.until)


def _quarter_before(quarter_start: datetime) -> datetime:
    month = quarter_start.month - 3
    return quarter_start.replace(month=month) if month >= 1 else quarter_start.replace(year=quarter_start.year - 1,
                                                                                       month=month + 12)


def _cut(text: str, match: re.Match[str]) -> str:
    return f"{text[:match.start()]} {text[match.end():]}"


def parse(question: str, now: datetime) -> ParsedQuery:
    """Split `question` into its search words and its scope/time filters (times in UTC, ending `now`)."""
    text = question
    phrases: list[str] = []
    channels: list[ChannelRef] = []
    for m in list(_CHANNEL.finditer(text))[::-1]:
        channels.insert(0, ChannelRef(m.group(1), (m.group(2) or m.group(3) or "").lower() or None))
        phrases.insert(0, m.group(0))
        text = _cut(text, m)
    authors: list[str] = []
    for m in list(_AUTHOR.finditer(text))[::-1]:
        authors.insert(0, m.group(1) or m.group(2))
        phrases.insert(0, m.group(0))
        text = _cut(text, m)
    since = until = None
    label = ""
    named = _NAMED.search(text)
    span = _SPAN.search(text)
    if named:
        label = named.group(1).lower()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = midnight.replace(day=1)
        quarter_start = month_start.replace(month=3 * ((month_start.month - 1) // 3) + 1)
        year_start = month_start.replace(month=1)
        since, until = {
            "today": (midnight, None),
            "yesterday": (midnight - timedelta(days=1), midnight),
            "this week": (midnight - timedelta(days=midnight.weekday()), None),
            "last week": (now - timedelta(weeks=1), None),
            "past week": (now - timedelta(weeks=1), None),
            "this month": (month_start, None),
            "last month": ((month_start - timedelta(days=1)).replace(day=1), month_start),
            # calendar quarters and years, as "the NPS score last quarter" means; "past" counts back from now
            "this quarter": (quarter_start, None),
            "last quarter": (_quarter_before(quarter_start), quarter_start),
            "past quarter": (now - _UNIT["quarter"], None),
            "this year": (year_start, None),
            "last year": (year_start.replace(year=year_start.year - 1), year_start),
            "past year": (now - _UNIT["year"], None),
        }[label]
        phrases.append(named.group(0))
        text = _cut(text, named)
    elif span:
        amount = max(1, int(span.group(1)))
        unit = span.group(2).lower().rstrip("s")
        since = now - _UNIT[unit] * amount
        label = f"last {amount} {unit}{'s' if amount > 1 else ''}"
        phrases.append(span.group(0))
        text = _cut(text, span)
    cleaned = re.sub(r"\s+([?.!,])", r"\1", " ".join(text.split())).strip(" ,")
    return ParsedQuery(question=cleaned or question, channels=tuple(channels), authors=tuple(authors),
                       since=since, until=until, time_label=label, phrases=phrases)


@dataclass(frozen=True, slots=True)
class Scope:
    filters: SearchFilters
    shown: list[str]  # what the Why? lists: "in #incidents", "from Bob Lee", "yesterday (2025-03-13 …)"
    problems: list[str]  # parts that matched nothing the reader can see


def resolve(parsed: ParsedQuery, visible: list[ChannelRecord], users: list[UserRecord]) -> Scope:
    """Turn names into storage ids. Only channels the reader may see are matched, so an answer never
    tells anyone that a channel they cannot read exists."""
    shown: list[str] = []
    problems: list[str] = []
    channel_ids: set[int] = set()
    for ref in parsed.channels:
        found = [c for c in visible if (ref.external_id and c.external_id == ref.external_id)
                 or (ref.name and c.name.lower() == ref.name)]
        if found:
            channel_ids.update(c.id for c in found)
            shown.append(f"in #{found[0].name}")
        else:
            problems.append(f"no channel {ref.label} that you can read")
    author_ids: set[int] = set()
    for who in parsed.authors:
        key = who.lower()
        found_users = [u for u in users if u.external_id == who or key in {u.name.lower(), u.display_name.lower()}
                       or key == u.display_name.lower().split(" ")[0]]
        if found_users:
            author_ids.update(u.id for u in found_users)
            shown.append(f"from {found_users[0].label}")
        else:
            problems.append(f"nobody called @{who}")
    if parsed.time_label:
        start = parsed.since.strftime("%Y-%m-%d %H:%M") if parsed.since else "…"
        end = parsed.until.strftime("%Y-%m-%d %H:%M") if parsed.until else "now"
        shown.append(f"{parsed.time_label} ({start} to {end} UTC)")
    filters = SearchFilters(
        channel_ids=frozenset(channel_ids) if parsed.channels else None,
        author_ids=frozenset(author_ids) if parsed.authors else None,
        since=parsed.since, until=parsed.until)
    return Scope(filters, shown, problems)
