"""Schedule maths: local wall-clock times kept across DST changes, weekly slots, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter

from bot.schedule import ScheduleError, next_run, parse_schedule, previous_run, slots_between, zone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_grammar() -> None:
    assert parse_schedule(["daily", "09:00"]) == ("0 9 * * *", "daily at 09:00")
    assert parse_schedule(["daily", "7.30"]) == ("30 7 * * *", "daily at 07:30")
    assert parse_schedule(["weekly", "Monday", "09:15"]) == ("15 9 * * 1", "weekly on Mon at 09:15")
    assert parse_schedule(["weekly", "sun", "18:00"]) == ("0 18 * * 0", "weekly on Sun at 18:00")
    for bad in ([], ["daily"], ["daily", "25:00"], ["weekly", "someday", "09:00"], ["hourly", "09:00"]):
        with pytest.raises(ScheduleError):
            parse_schedule(bad)
    with pytest.raises(ScheduleError, match="not a time zone"):
        zone("Mars/Olympus")


def test_daily_keeps_local_time_when_clocks_go_forward() -> None:
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29.
    slots = slots_between("0 9 * * *", "Europe/Berlin", utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    assert slots == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), utc(2026, 3, 31, 7)]


def test_daily_keeps_local_time_when_clocks_go_back() -> None:
    # ... and back to UTC+1 on 2026-10-25.
    slots = slots_between("0 9 * * *", "Europe/Berlin", utc(2026, 10, 23, 12), utc(2026, 10, 27, 12))
    assert slots == [utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8), utc(2026, 10, 27, 8)]


def test_a_time_in_the_repeated_hour_fires_once() -> None:
    """02:30 happens twice in Berlin on 2026-10-25; croniter's tz-aware stepping fires it twice, we once."""
    naive_croniter = croniter("30 2 * * *", utc(2026, 10, 24, 12).astimezone(zone("Europe/Berlin")))
    twice = [naive_croniter.get_next(datetime).astimezone(UTC) for _ in range(2)]
    assert twice == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]  # why we don't step in the zone
    slots = slots_between("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert slots == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # Asking from inside the repeated hour does not go back to its first 02:30.
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 0)) == utc(2026, 10, 26, 1, 30)


def test_a_time_that_does_not_exist_fires_once_after_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: it runs at 03:30 local (01:30 UTC), once.
    slots = slots_between("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert slots == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]


def test_weekly_across_the_us_change() -> None:
    # America/New_York leaves daylight time on 2026-11-01: Monday 09:00 moves from 13:00 to 14:00 UTC.
    slots = slots_between("0 9 * * 1", "America/New_York", utc(2026, 10, 20), utc(2026, 11, 10))
    assert slots == [utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), utc(2026, 11, 9, 14)]
    assert all(s.astimezone(zone("America/New_York")).weekday() == 0 for s in slots)


def test_zones_with_odd_offsets_and_the_southern_hemisphere() -> None:
    assert next_run("0 9 * * *", "Asia/Kolkata", utc(2026, 6, 1)) == utc(2026, 6, 1, 3, 30)
    assert next_run("0 9 * * *", "Asia/Kathmandu", utc(2026, 6, 1)) == utc(2026, 6, 1, 3, 15)
    # Auckland leaves daylight time early on Sunday 2026-04-05 (UTC+13 -> UTC+12): Sat 09:00 is 20:00 UTC,
    # Sun 09:00 is 21:00 UTC the day before.
    slots = slots_between("0 9 * * *", "Pacific/Auckland", utc(2026, 4, 3), utc(2026, 4, 6))
    assert slots == [utc(2026, 4, 3, 20), utc(2026, 4, 4, 21), utc(2026, 4, 5, 21)]


def test_previous_run_and_window_length_across_a_change() -> None:
    slot = utc(2026, 3, 29, 7)
    assert previous_run("0 9 * * *", "Europe/Berlin", slot) == utc(2026, 3, 28, 8)
    assert slot - previous_run("0 9 * * *", "Europe/Berlin", slot) == timedelta(hours=23)
    assert previous_run("0 9 * * 1", "UTC", utc(2026, 11, 30, 9)) == utc(2026, 11, 23, 9)


def test_slots_are_bounded_and_half_open() -> None:
    assert slots_between("0 9 * * *", "UTC", utc(2026, 1, 1, 9), utc(2026, 1, 2, 9)) == [utc(2026, 1, 2, 9)]
    many = slots_between("0 9 * * *", "UTC", utc(2025, 1, 1), utc(2026, 1, 1), limit=3)
    assert many == [utc(2025, 12, 29, 9), utc(2025, 12, 30, 9), utc(2025, 12, 31, 9)]
