"""A playground answer while it is written: the page polls the turn and sees the status line and the
growing answer (the loopback OpenAI server streams slowly), then the reply card with Why?. Progress goes
through the database, so it works the same when another process answers."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.playground import create_adapter
from adapters.playground.progress import INTERVAL_S, PlaygroundProgress
from bot.app import create_app
from bot.demo import seed_demo
from bot.models import Rationale, Reply, Route, RouteKind
from bot.services import Services, build_services
from storage import Storage
from tests.adapters.playground.test_playground_http import _get, _post
from tests.bot.backends.llm.conftest import source_number
from tests.conftest import make_settings
from tests.peers.fake_openai import FakeOpenAI

Serve = Callable[[web.Application], Awaitable[str]]
STAGING = "@whybot how do I get access to the staging environment?"


def slow_answer(body: dict[str, Any]) -> str:
    n = source_number(body["messages"][1]["content"], "access form")
    return (f"Request staging access with the access form [{n}]. Bob approves requests the same day, usually "
            f"within an hour, and you will also need the VPN profile set up on your laptop first [{n}].")


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=slow_answer) as fake:
        yield fake


@pytest.fixture
async def llm_base(fake_openai: FakeOpenAI, sqlite_storage: Storage, sqlite_url: str, serve: Serve) -> str:
    settings = make_settings(sqlite_url, OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test-progress",
                             WHYBOT_LLM_MODEL="test-model")
    services = await build_services(settings, storage=sqlite_storage)
    assert await seed_demo(services.ingest, services.storage, clock=services.clock)
    return await serve(create_app(services, factories={"playground": create_adapter}))


async def test_a_slow_answer_shows_its_status_and_growing_text_then_the_reply(fake_openai: FakeOpenAI,
                                                                               llm_base: str) -> None:
    fake_openai.stream_words = 2
    fake_openai.stream_pause_s = 0.15  # about 3 s of writing
    status, body = await _post(llm_base, "/api/playground/messages",
                               {"channel": "engineering", "user": "frank", "text": STAGING, "wait_s": 0})
    assert status == 202 and body["pending"] and body["reply"] is None
    key = body["turn"]
    seen: list[tuple[str | None, str | None]] = []
    started = time.monotonic()
    while True:
        status, turn, _ = await _get(llm_base, f"/api/playground/turns/{key}?user=frank")
        assert status == 200
        if not turn["pending"]:
            break
        seen.append((turn["status"], turn["text"]))
        assert time.monotonic() - started < 30, seen[-3:]
        await asyncio.sleep(0.03)
    elapsed = time.monotonic() - started

    statuses = [s for s, _ in seen if s]
    assert statuses and statuses[0].startswith(("Searching what you can see in ", "Found "))
    assert "writing the answer" in statuses[-1]
    texts = list(dict.fromkeys(t for _, t in seen if t))
    assert len(texts) >= 3, "the answer grows while it is written"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert len(texts) <= elapsed / INTERVAL_S + 2, "written to the database at most four times a second"

    reply = turn["reply"]
    assert reply["is_bot"] and ">Why?</button>" in reply["reply_html"] and "access form" in reply["reply_html"]
    assert "Request staging access" in texts[-1] and "[" not in texts[0][:8]
    status, _, _ = await _get(llm_base, f"/api/playground/turns/{key}?user=erin")
    assert status == 404, "only the asker follows a question's progress"
    status, _, _ = await _get(llm_base, f"/api/playground/turns/{key}")
    assert status == 404


async def test_without_a_model_the_status_line_is_still_recorded(demo: Services, serve: Serve) -> None:
    """No LLM: nothing streams, but what whybot is doing is said (and a page that polls shows it)."""
    base = await serve(create_app(demo, factories={"playground": create_adapter}))
    status, body = await _post(base, "/api/playground/messages",
                               {"channel": "engineering", "user": "frank", "text": STAGING})
    assert status == 200 and "access form" in body["reply"]["reply_html"]
    row = await demo.storage.inbox.by_key(body["turn"])
    assert row is not None and row.progress is not None
    # What was written last (writes are throttled: the quick second line may be the first one kept).
    assert row.progress["status"].startswith(("Searching what you can see in ", "Found "))
    assert row.progress["text"] is None
    _, turn, _ = await _get(base, f"/api/playground/turns/{body['turn']}?user=frank")
    assert turn["pending"] is False and turn["reply"]["id"] == body["reply"]["id"]


async def test_progress_writes_are_throttled_and_best_effort(sqlite_storage: Storage, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    now = datetime.now(UTC)
    await sqlite_storage.inbox.put("playground:t1", "answer", {}, priority=5, now=now)
    assert await sqlite_storage.inbox.claim("w", now, timedelta(seconds=30)) is not None
    progress = PlaygroundProgress(sqlite_storage.inbox, "playground:t1")
    await progress.status("Searching what you can see in 7 channels…")
    words = ["Request", "staging", "access", "with", "the", "access", "form", "and", "Bob", "approves", "it",
             "the", "same", "day"]
    started = time.monotonic()
    for i in range(len(words)):
        await progress.text(" ".join(words[: i + 1]))
        await asyncio.sleep(0.05)
    await asyncio.sleep(INTERVAL_S * 2)
    elapsed = time.monotonic() - started
    assert 2 <= progress.writes <= elapsed / INTERVAL_S + 2, progress.writes
    row = await sqlite_storage.inbox.by_key("playground:t1")
    assert row is not None and row.progress == {"status": "Searching what you can see in 7 channels…",
                                                "text": " ".join(words)}
    assert await progress.finish(_reply(), key="playground:t1") is None, "the pipeline sends the reply"
    await progress.text("after the end")
    row = await sqlite_storage.inbox.by_key("playground:t1")
    assert row is not None and row.progress is not None and row.progress["text"] == " ".join(words)

    # A database that fails (its file is gone: "no such table") loses the progress, never the turn.
    broken = PlaygroundProgress(sqlite_storage.inbox, "playground:t1")
    await sqlite_storage.close()
    (tmp_path / "whybot.db").unlink()
    with caplog.at_level(logging.WARNING, logger="adapters.playground.progress"):
        await broken.status("Searching…")
        await broken.text("Request")
        await asyncio.sleep(INTERVAL_S)
        assert await broken.finish(_reply(), key="playground:t1") is None
    assert any("could not record the progress" in r.getMessage() for r in caplog.records)


def _reply() -> Reply:
    return Reply(title="t", body="b", rationale=Rationale(
        skill="ask", route=Route(kind=RouteKind.EXPLICIT, skill="ask", reason="test")))
