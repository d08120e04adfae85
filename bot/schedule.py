"""Schedule maths for digests: the one grammar (`daily HH:MM`, `weekly DAY HH:MM`) and croniter slots.

Cron expressions are evaluated on the subscriber's *wall clock* (naive local time) and only then
placed in the zone, because croniter's own tz-aware stepping fires a 02:30 job twice on the night
clocks go back. On wall time every local day has exactly one 09:00, so a daily digest fires once a
day at 09:00 local before and after a DST change. Wall times that do not exist (02:30 on the night
clocks go forward) land one gap later (03:30), the zoneinfo `fold=0` reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
# Wall-clock margin when stepping: covers the hour a DST change repeats or skips.
_MARGIN = timedelta(hours=3)


class ScheduleError(ValueError):
    """A schedule the user wrote that we cannot read; the message says how to fix it."""


def parse_schedule(words: list[str]) -> tuple[str, str]:
    """(cron expression, human description) for `daily HH:MM` or `weekly DAY HH:MM`."""
    if not words:
        raise ScheduleError("Say when: `digest daily 09:00` or `digest weekly mon 09:00`.")
    cadence = words[0].lower()
    if cadence == "daily" and len(words) == 2 and (m := _TIME.match(words[1])):
        hour, minute = int(m.group(1)), int(m.group(2))
        return f"{minute} {hour} * * *", f"daily at {hour:02d}:{minute:02d}"
    if cadence == "weekly" and len(words) == 3 and (m := _TIME.match(words[2])):
        day = words[1].lower()[:3]
        if day not in DAYS:
            raise ScheduleError(f"`{words[1]}` is not a day: use mon, tue, wed, thu, fri, sat or sun.")
        hour, minute = int(m.group(1)), int(m.group(2))
        return f"{minute} {hour} * * {DAYS[day]}", f"weekly on {day.capitalize()} at {hour:02d}:{minute:02d}"
    raise ScheduleError("I didn't understand that schedule. Use `digest daily 09:00` or `digest weekly mon 09:00`.")


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"`{tz}` is not a time zone I know; use a name like Europe/Berlin.") from exc


def _placed(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` as a UTC instant; ambiguous times take their first occurrence."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _forward(cron: str, tz: str, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, in UTC, in order."""
    z = zone(tz)
    wall = after.astimezone(z).replace(tzinfo=None) - _MARGIN
    it = croniter(cron, wall)
    while True:
        at = _placed(it.get_next(datetime), z)
        if at > after:
            yield at


def next_run(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire time strictly after `after`, in UTC."""
    return next(_forward(cron, tz, after))


def previous_run(cron: str, tz: str, before: datetime) -> datetime:
    """The last fire time strictly before `before`, in UTC."""
    z = zone(tz)
    wall = before.astimezone(z).replace(tzinfo=None) + _MARGIN
    it = croniter(cron, wall)
    while True:
        at = _placed(it.get_prev(datetime), z)
        if at < before:
            return at


def slots_between(cron: str, tz: str, start: datetime, end: datetime, *, limit: int = 500) -> list[datetime]:
    """Fire times in (start, end], oldest first, at most `limit` (the newest ones if there are more)."""
    found: list[datetime] = []
    for at in _forward(cron, tz, start):
        if at > end:
            break
        found.append(at)
    return found[-limit:]
