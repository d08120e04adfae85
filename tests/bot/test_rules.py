"""The pieces of channel rules that need no platform: which unaddressed messages are questions for the
channel, the digest-defaults grammar, an excluded channel's visibility, and the rate limiter's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Platform, Rationale, Reader, Reply, Route, RouteKind
from bot.questions import asks_the_channel
from bot.ratelimit import RateLimiter
from bot.render import why_lines
from bot.rules import DigestDefaults
from bot.skill import SkillError
from bot.visibility import Visibility
from skills.settings import parse_digest_defaults
from storage import ChannelRecord, Storage
from tests.conftest import make_settings

T = "slack:T1"


@pytest.mark.parametrize("text", [
    "When does the release freeze start this week?",
    "Who owns the billing service these days?",
    "how do I rotate the staging database password?",
    "Is the payments migration still planned for Friday?",
])
def test_real_questions_for_the_channel(text: str) -> None:
    assert asks_the_channel(text)


@pytest.mark.parametrize("text", [
    "The release freeze starts Friday.",  # a statement
    "When does the release freeze start",  # no question mark: too unsure to barge in
    "thanks?",  # too short
    "lol what?",
    "Is anyone around for lunch?",  # small talk
    "<@U123> when does the release freeze start?",  # asked of someone else
    "@bob can you review my pull request today?",
    "Great work on the launch everyone, what a week?!",  # not phrased as a question
])
def test_not_questions_for_the_channel(text: str) -> None:
    assert not asks_the_channel(text)


def test_digest_defaults_grammar() -> None:
    current = DigestDefaults(top_n=5)
    new = parse_digest_defaults("daily 9:00 top 3 7d", current, "Europe/Berlin")
    assert (new.cron, new.description, new.tz, new.top_n, new.window_hours) == (
        "0 9 * * *", "daily at 09:00", "Europe/Berlin", 3, 168)
    assert new.window == "7d" and new.in_words() == "top 3 threads of the last 7d, daily at 09:00 (Europe/Berlin)"
    kept = parse_digest_defaults("top=2", new, None)
    assert (kept.top_n, kept.cron, kept.window_hours) == (2, "0 9 * * *", 168), "what is not said stays"
    moved = parse_digest_defaults("tz=Asia/Tokyo", kept, None)
    assert moved.tz == "Asia/Tokyo" and moved.cron == "0 9 * * *"
    weekly = parse_digest_defaults("weekly mon 08:30 48h", kept, None)
    assert (weekly.cron, weekly.window, weekly.tz) == ("30 8 * * 1", "2d", "Europe/Berlin")
    assert parse_digest_defaults("unscheduled", weekly, None).cron is None


@pytest.mark.parametrize(("args", "says"), [
    ("", "Say which digest defaults"),
    ("top 11", "1 to 10"),
    ("daily 25:00", "didn't understand that schedule"),
    ("weekly someday 09:00", "is not a day"),
    ("90d", "1 hour to 30 days"),
    ("daily 09:00 tz=Mars/Olympus", "not a time zone"),
    ("tz=Europe/Paris", "goes with a schedule"),
])
def test_digest_defaults_say_what_is_wrong(args: str, says: str) -> None:
    with pytest.raises(SkillError, match=says):
        parse_digest_defaults(args, DigestDefaults(top_n=5), None)


def test_an_excluded_channel_is_seen_by_no_one_not_even_from_inside() -> None:
    channels = [ChannelRecord(1, T, "PUB", "general", "channel", False),
                ChannelRecord(2, T, "GONE", "random", "channel", False, excluded=True),
                ChannelRecord(3, T, "SEC", "secret", "channel", True, frozenset({"ann"}), excluded=True)]
    elsewhere = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="ann", channel="PUB"), T, channels)
    assert elsewhere.allowed_channel_ids == frozenset({1})
    inside = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="ann", channel="GONE"), T, channels)
    assert not inside.may_see_channel("GONE") and inside.allowed_channel_ids == frozenset({1})
    alone = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="ann", private=True), T, channels)
    assert 3 not in alone.allowed_channel_ids


def test_rules_lead_the_why() -> None:
    route = Route(kind=RouteKind.EXPLICIT, skill="settings", reason="command word")
    reply = Reply(body="ok", rationale=Rationale(skill="settings", route=route, rules=["you created this channel"]))
    lines = why_lines(reply)
    assert lines[0] == "**Rules:** you created this channel"
    assert lines[1] == "**How I chose this:** you asked about this channel's rules"


async def test_the_rate_limiter_says_how_many_and_how_long(sqlite_storage: Storage, sqlite_url: str) -> None:
    now = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]
    limiter = RateLimiter(sqlite_storage, make_settings(sqlite_url, WHYBOT_RATE_LIMIT_PER_MINUTE=0,
                                                        WHYBOT_RATE_LIMIT_PER_HOUR=3), lambda: now[0])
    tenant = await sqlite_storage.workspace.ensure_tenant("slack", "T1")
    for i in range(3):
        assert (await limiter.admit(tenant, "U1", f"k{i}")).allowed
        now[0] += timedelta(minutes=8)
    refused = await limiter.admit(tenant, "U1", "k3")
    assert not refused.allowed and refused.window == "hour" and refused.retry_after_s == 36 * 60
    assert refused.message == "You've asked me 3 questions in the last hour; try again in 36 minutes."
