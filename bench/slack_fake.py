"""The loopback fake Slack Web API (tests/peers/slack.py) as a standalone process for the Slack benchmarks.

    python -m bench.slack_fake --export DIR [--bench-channels 500]

Knows the users and channels of a `whybot synth` export (so whybot's Web API calls about them succeed)
plus `--bench-channels` extra public channels with everyone in them, to spread load over many channels.
Prints its Web API base URL on the first line of stdout and serves until stdin closes or SIGTERM.
`bench.stats` (a Web API method only this fake has) says how many messages have been posted, so a
driver can tell when whybot's backlog has drained.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from tests.peers.slack import BOT_USER, FakeChannel, FakeSlack

BENCH_TOKEN = "xoxb-bench"


class BenchSlack(FakeSlack):
    def _bench_stats(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        posted = self.called("chat.postMessage")
        per_thread: dict[str, int] = {}
        for call in posted:  # answers to mentions go in the mention's thread: more than one there is a duplicate
            if call.args.get("thread_ts"):
                key = f"{call.args.get('channel')}:{call.args.get('thread_ts')}"
                per_thread[key] = per_thread.get(key, 0) + 1
        return {"ok": True, "posted": len(posted), "calls": len(self.calls),
                "last_post_at": posted[-1].at if posted else None, "threads": len(per_thread),
                "duplicates": sum(n - 1 for n in per_thread.values()), "responses": len(self.responses)}

    def trim(self) -> None:
        """Forget recorded calls and posted messages (a long run would otherwise grow without end)."""
        self.calls.clear()
        for channel in self.channels.values():
            channel.messages.clear()


def export_workspace(export: Path) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """(team id, users, channels incl. private groups) of a Slack export folder."""
    users = json.loads((export / "users.json").read_text())
    channels = json.loads((export / "channels.json").read_text())
    groups_file = export / "groups.json"
    groups = json.loads(groups_file.read_text()) if groups_file.exists() else []
    team = str(users[0].get("team_id") or "T0BENCH")
    return team, users, [*channels, *[{**g, "is_private": True} for g in groups]]


def bench_channel(i: int) -> str:
    return f"CBENCH{i:04d}"


def build(export: Path, bench_channels: int) -> BenchSlack:
    team, users, channels = export_workspace(export)
    fake = BenchSlack(team_id=team, tokens={BENCH_TOKEN: team})
    for u in users:
        fake.add_user(u["id"], u.get("real_name") or u.get("name") or u["id"], tz=u.get("tz") or "UTC")
    for c in channels:
        fake.add_channel(FakeChannel(c["id"], c["name"], is_private=bool(c.get("is_private")),
                                     members=[*c.get("members", []), BOT_USER]))
    everyone = [u["id"] for u in users] + [BOT_USER]
    for i in range(bench_channels):
        fake.add_channel(FakeChannel(bench_channel(i), f"bench-{i}", members=everyone))
    return fake


async def serve(export: Path, bench_channels: int) -> None:
    fake = build(export, bench_channels)
    await fake.start()
    print(fake.api_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.readline() else fake.trim())
    await stop.wait()
    await fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_fake")
    parser.add_argument("--export", type=Path, required=True, help="a `whybot synth` / Slack export folder")
    parser.add_argument("--bench-channels", type=int, default=500)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.export, args.bench_channels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
