"""`whybot digest run --once`: the scheduler as a cron job, posting through the installed adapters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.scheduler import run_key
from storage import NewMessage, Storage


async def test_digest_run_once_posts_what_is_due_and_nothing_twice(sqlite_url: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    slot = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    storage = await Storage.open(sqlite_url, auto_upgrade=True)
    try:
        tenant = await storage.workspace.ensure_tenant("playground", "demo")
        await storage.workspace.upsert_channel(tenant, "engineering", name="engineering")
        await storage.messages.upsert(tenant, NewMessage("engineering", "1.0", "We decided to ship on Friday.",
                                                         now - timedelta(hours=3), "frank"))
        sub = await storage.subscriptions.subscribe(
            tenant_id=tenant, platform="playground", channel_external_id="engineering",
            cron=f"{slot.minute} {slot.hour} * * *", tz="UTC", description="daily", top_n=3, created_by="frank",
            now=now - timedelta(hours=2))
    finally:
        await storage.close()

    assert await asyncio.to_thread(main, ["digest", "run", "--once", "--database-url", sqlite_url]) == 0
    out = capsys.readouterr().out
    assert f"slot {slot:%Y-%m-%d %H:%M} UTC: done (late): posted late" in out
    assert await asyncio.to_thread(main, ["digest", "run", "--once", "--database-url", sqlite_url]) == 0
    assert "no digest was due" in capsys.readouterr().out

    storage = await Storage.open(sqlite_url, auto_upgrade=True)
    try:
        (run,) = await storage.digest_runs.for_subscription(sub.id)
        assert run.status == "done" and run.late and run.posted_message_id
        posted = await storage.messages.find(tenant, "engineering", run.posted_message_id)
        assert posted is not None and posted.is_bot and "Digest for #engineering" in posted.text
        assert "(late)" in posted.text
        decision = await storage.decisions.get(run.decision_id or "")
        assert decision is not None and decision.posted_ref is not None
        assert decision.posted_ref["key"] == run_key(sub.id, slot)
    finally:
        await storage.close()
