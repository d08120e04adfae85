"""`whybot stats` on a seeded workspace: the real console entry point prints engagement per week and this
week's knowledge gaps, as tables or JSON, for every workspace or the ones named."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import ChatEvent, ConversationKind, Platform, Reply
from bot.services import Services
from storage import tenant_key

DEMO = tenant_key("playground", "demo")


async def asked(demo: Services, channel: str, user: str, text: str, *, dm: bool = False) -> Reply:
    kind = ConversationKind.DM if dm else ConversationKind.CHANNEL
    return await demo.router.handle(ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel,
                                              conversation_kind=kind, user=user, text=text))


async def seed(demo: Services) -> dict[str, Reply]:
    replies = {
        "checkout": await asked(demo, "incidents", "dan", "what caused the checkout 502s?"),
        "parking": await asked(demo, "random", "erin", "what is the parking garage door code?"),
        "garage": await asked(demo, "engineering", "frank", "who has the garage parking permits?"),
        "board": await asked(demo, "leadership", "alice", "what did the board decide about the dividend?"),
        "help": await asked(demo, "random", "erin", "help"),
    }
    assert replies["checkout"].rationale.declined is False
    assert all(replies[k].rationale.declined for k in ("parking", "garage", "board"))
    checkout = replies["checkout"].decision_id
    await demo.storage.decisions.record_feedback(checkout, "bob", True)
    await demo.storage.decisions.record_feedback(checkout, "alice", False)
    await demo.storage.engagement.record_open("k1", checkout, DEMO, "dan", admin=False, at=demo.clock())
    return replies



async def test_stats_prints_engagement_and_gaps_for_every_workspace(demo: Services, sqlite_url: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    replies = await seed(demo)
    code = await asyncio.to_thread(main, ["stats", "--database-url", sqlite_url])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "playground:demo: engagement per week (Monday 00:00 UTC on; every conversation counted)"
    this_week = lines[2].split()
    assert lines[2].split()[0].endswith("*") and len(lines) > 6
    # asked 4 (help is no question), answered 1, declined 3, failed 0, helpful 50% (1 of 2), 1 why?, 0 digest
    assert this_week[1:] == ["4", "1", "3", "0", "50%", "(1", "of", "2)", "1", "0"], lines[2]
    gaps_at = next(i for i, line in enumerate(lines) if line.startswith("Knowledge gaps"))
    assert "4 questions declined or voted 👎, in 3 topics" in lines[gaps_at]
    topics = lines[gaps_at + 1:]
    parking = topics.index(next(t for t in topics if t.startswith("  garage") or t.startswith("  parking")))
    assert topics[parking].endswith("(2)")
    grouped = "\n".join(topics[parking + 1:parking + 3])
    assert "#random  declined  what is the parking garage door code?" in grouped
    assert "#engineering  declined  who has the garage parking permits?" in grouped
    assert f"#leadership  declined  what did the board decide about the dividend?  ({replies['board'].decision_id})" \
        in out, "the operator's view counts private channels too"
    assert "#incidents  👎  what caused the checkout 502s?" in out


async def test_stats_json_for_one_workspace_and_unknown_ones(demo: Services, sqlite_url: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    await seed(demo)
    await demo.storage.workspace.ensure_tenant("slack", "T1")
    code = await asyncio.to_thread(main, ["stats", "--database-url", sqlite_url, "--tenant", "demo", "--weeks", "2",
                                          "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [t["tenant_id"] for t in data["tenants"]] == [DEMO]
    [stats] = data["tenants"]
    weeks = stats["engagement"]["weeks"]
    assert len(weeks) == 2 and weeks[-1]["partial"] and not weeks[0]["partial"]
    assert {k: weeks[-1][k] for k in ("asked", "answered", "declined", "helpful", "unhelpful", "helpful_rate",
                                      "why_opens")} == {"asked": 4, "answered": 1, "declined": 3, "helpful": 1,
                                                        "unhelpful": 1, "helpful_rate": 0.5, "why_opens": 1}
    assert stats["engagement"]["scope"] == "everything"
    assert sum(len(t["gaps"]) for t in stats["gaps"]["topics"]) == 4

    code = await asyncio.to_thread(main, ["stats", "--database-url", sqlite_url, "--tenant", "nowhere"])
    captured = capsys.readouterr()
    assert code == 1 and "no workspace 'nowhere'" in captured.err and "playground:demo" in captured.err


async def test_stats_is_a_console_command(demo: Services, sqlite_url: str, tmp_path: Path) -> None:
    """Through the installed entry point group, as operators run it."""
    await seed(demo)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "stats", "--weeks", "1", env={**os.environ, "WHYBOT_DATABASE_URL": sqlite_url},
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert text.startswith("playground:demo: engagement per week") and len(text.split("\n* this week")[0]
                                                                           .splitlines()) == 3
