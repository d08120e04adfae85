"""The `whybot` console script: db upgrade, explain, and demo serving a real port."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from bot.models import ChatEvent, Platform
from bot.services import Services
from storage import Database


async def test_db_upgrade(db_url: str) -> None:
    await asyncio.to_thread(main, ["db", "upgrade", "--database-url", db_url])
    db = Database(db_url)
    try:
        assert await db.current_revision() == Database.head_revision()
    finally:
        await db.dispose()


async def test_explain_prints_the_full_rationale(demo: Services, sqlite_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    reply = await demo.router.handle(ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="engineering",
                                               user="frank", text="when does the release freeze start?"))
    code = await asyncio.to_thread(main, ["explain", reply.decision_id, "--database-url", sqlite_url])
    out = capsys.readouterr().out
    assert code == 0
    assert f"decision {reply.decision_id}" in out and "EVIDENCE" in out and "matched: release, freeze" in out
    assert await asyncio.to_thread(main, ["explain", "d_missing", "--database-url", sqlite_url]) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_demo_command_serves_the_playground(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "WHYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
           "WHYBOT_PORT": str(port), "WHYBOT_HOST": "127.0.0.1"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "demo", env=env, cwd=tmp_path,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        while b"listening" not in line:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with http.get(f"http://127.0.0.1:{port}/api/playground/state") as response:
                state = await response.json()
        assert {c["name"] for c in state["channels"]} >= {"engineering", "incidents", "random"}
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
