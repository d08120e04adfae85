"""Real `whybot serve` / `whybot worker` processes on loopback, talking to the fake Slack and OpenAI peers
in the test's process, for tests about processes that die, stop or lose their database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from storage import Storage, tenant_key
from tests.peers.fake_openai import FakeOpenAI
from tests.peers.slack import (
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    FakeChannel,
    FakeSlack,
    event_body,
    signed_headers,
)

GENERAL = "CGENERAL"
ALICE, BOB = "UALICE", "UBOB"
FACT = "The office wifi password rotates every Monday morning."
QUESTION = "when does the wifi password rotate?"
ANSWER = "It rotates every Monday morning [1]."
OWN_PREFIXES = ("WHYBOT_", "SLACK_", "OPENAI_", "MICROSOFT_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Child processes, from /proc (a killed server's workers must die with it, as in a real crash)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


@dataclass
class Proc:
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> Proc:
        out = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", *self.args, env=self.env,
                                                            cwd=self.cwd, stdout=out, stderr=out)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill_all(self) -> None:
        """SIGKILL this process and everything it started: what a crash or an OOM kill does."""
        for pid in [*descendants(self.pid), self.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, within: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)


@dataclass
class Cluster:
    """Peers plus the processes under test, sharing one database."""

    tmp: Path
    database_url: str
    slack: FakeSlack
    openai: FakeOpenAI
    procs: list[Proc] = field(default_factory=list)
    _ids: int = 0

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
        env.update({"WHYBOT_DATABASE_URL": self.database_url, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": self.slack.api_url,
                    "OPENAI_BASE_URL": self.openai.base_url, "OPENAI_API_KEY": "test-key",
                    "WHYBOT_PLAYGROUND": "false", "WHYBOT_TURN_LEASE": "2", "WHYBOT_SCHEDULER": "false",
                    # one person asks every question here, faster than any person would
                    "WHYBOT_RATE_LIMIT_PER_MINUTE": "0", "WHYBOT_RATE_LIMIT_PER_HOUR": "0",
                    "PYTHONUNBUFFERED": "1", **extra})
        return env

    async def serve(self, **extra: str) -> tuple[Proc, str]:
        port = free_port()
        proc = await Proc(["serve", "--port", str(port)], self.env(**extra), self.tmp,
                          self.tmp / f"serve-{port}.log").start()
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base)
        return proc, base

    async def worker(self, **extra: str) -> Proc:
        proc = await Proc(["worker"], self.env(**extra), self.tmp, self.tmp / f"worker-{len(self.procs)}.log").start()
        self.procs.append(proc)
        return proc

    def next_id(self) -> str:
        self._ids += 1
        return f"EvProc{self._ids:05d}"

    async def event(self, base: str, event: dict[str, Any], event_id: str, retry: int | None = None) -> int:
        body = json.dumps(event_body(event, event_id=event_id))
        async with aiohttp.ClientSession() as http, http.post(
                f"{base}/slack/events", data=body.encode(), headers=signed_headers(body, retry=retry),
                timeout=aiohttp.ClientTimeout(total=10)) as response:
            return response.status

    async def say(self, base: str, text: str, user: str = ALICE, within: float = 30.0) -> str:
        """Post a channel message and wait until a worker has stored it (so a question can find it)."""
        ts = self.slack.next_ts()
        assert await self.event(base, {"type": "message", "channel": GENERAL, "user": user, "text": text, "ts": ts,
                                       "event_ts": ts, "channel_type": "channel"}, self.next_id()) == 200
        storage = await Storage.open(self.database_url)
        try:
            deadline = time.monotonic() + within
            while await storage.messages.find(tenant_key("slack", TEAM), GENERAL, ts) is None:
                assert time.monotonic() < deadline, f"the message was never stored\n{self.logs()}"
                await asyncio.sleep(0.1)
        finally:
            await storage.close()
        return ts

    async def mention(self, base: str, text: str, *, event_id: str, ts: str, retry: int | None = None) -> int:
        return await self.event(base, {"type": "app_mention", "channel": GENERAL, "user": BOB,
                                       "text": f"<@{BOT_USER}> {text}", "ts": ts, "event_ts": ts}, event_id, retry)

    def answers_in(self, thread_ts: str) -> list[dict[str, Any]]:
        return [c.args for c in self.slack.called("chat.postMessage") if c.args.get("thread_ts") == thread_ts]

    async def answered(self, thread_ts: str, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not self.answers_in(thread_ts):
            assert time.monotonic() < deadline, f"the question in {thread_ts} was never answered\n{self.logs()}"
            await asyncio.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.log.read_text(errors='replace')[-3000:]}" for p in self.procs)

    async def close(self) -> None:
        for proc in self.procs:
            if proc.process is not None and proc.process.returncode is None:
                proc.kill_all()
                with contextlib.suppress(Exception):
                    await proc.wait(5)


async def wait_healthy(base: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            assert time.monotonic() < deadline, f"{base} never became healthy"
            await asyncio.sleep(0.1)


def populate(slack: FakeSlack) -> None:
    slack.add_user(ALICE, "Alice")
    slack.add_user(BOB, "Bob")
    slack.add_channel(FakeChannel(GENERAL, "general", members=[ALICE, BOB, BOT_USER]))


