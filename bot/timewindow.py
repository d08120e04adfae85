"""Parsing "last 24h", "7d", "today", "yesterday", "this week" into a UTC window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_SPAN = re.compile(r"\b(?:last|past)?\s*(\d{1,3})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)\b",
                   re.IGNORECASE)
_NAMED = re.compile(r"\b(today|yesterday|this week|last week|last day|last hour)\b", re.IGNORECASE)
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_WINDOW = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    label: str

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def parse_window(text: str, now: datetime, default: timedelta = timedelta(hours=24)) -> tuple[Window, str]:
    """The window named in `text` (or the default) and `text` with that phrase removed."""
    named = _NAMED.search(text)
    if named:
        phrase = named.group(1).lower()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = {
            "today": (midnight, now),
            "yesterday": (midnight - timedelta(days=1), midnight),
            "this week": (midnight - timedelta(days=midnight.weekday()), now),
            "last week": (now - timedelta(weeks=1), now),
            "last day": (now - timedelta(days=1), now),
            "last hour": (now - timedelta(hours=1), now),
        }[phrase]
        return Window(start, end, phrase), (text[:named.start()] + text[named.end():]).strip()
    span = _SPAN.search(text)
    if span:
        amount = int(span.group(1))
        unit = span.group(2).lower()
        key = "m" if unit.startswith("m") else unit[0]
        length = min(_UNIT[key] * max(amount, 1), MAX_WINDOW)
        label = f"last {amount}{key if key != 'm' else 'min'}"
        return Window(now - length, now, label), (text[:span.start()] + text[span.end():]).strip()
    hours = default.total_seconds() / 3600
    return Window(now - default, now, f"last {hours:g}h"), text.strip()


def mentions_window(text: str) -> bool:
    return bool(_SPAN.search(text) or _NAMED.search(text))
