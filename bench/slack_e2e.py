"""End to end: an @mention sent to `whybot serve` until its answer's chat.postMessage reaches the fake Slack.

    python -m bench slack-e2e [--mentions 200] [--repeat 3] [--size small]

`whybot serve` runs as a subprocess (SQLite, the embedded extractive backend, BM25 retrieval) on a
workspace seeded from a `whybot synth` export through `whybot import slack-export`. The fake Slack Web
API (tests/peers/slack.py) runs in this process, so the send time and the time the answer arrives are
read from one clock. Mentions are sequential (one in flight at a time) and ask the export's labelled
questions, each in its own channel so Slack's one-post-a-second pacing never delays an answer. Every
channel is visited once before the measured passes: the first mention in a channel also looks the
channel and the person up (conversations.info, users.info), reported separately as "cold".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.slack_fake import BenchSlack, bench_channel, build
from bench.slack_rig import BOT_USER, SIGNING_SECRET, Workspace, load_average, seed_workspace, start_whybot

TARGET_P50_MS = 100.0


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stats(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"p50_ms": round(statistics.median(ordered), 1), "p99_ms": round(percentile(ordered, 0.99), 1),
            "max_ms": round(ordered[-1], 1), "n": len(ordered)}


class Driver:
    def __init__(self, fake: BenchSlack, url: str, ws: Workspace) -> None:
        self.fake, self.url, self.ws = fake, url, ws
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        self.seq = 0

    async def mention(self, session: aiohttp.ClientSession, channel: str, user: str, text: str) -> dict[str, float]:
        """Send one signed app_mention; milliseconds until the ack and until the answer was posted."""
        self.seq += 1
        ts = f"{1_900_000_000 + self.seq}.000100"
        now = str(int(time.time()))
        body = json.dumps({
            "token": "legacy", "team_id": self.ws.team, "api_app_id": "A0BENCH", "type": "event_callback",
            "event_id": f"EvE2E{self.seq:07d}", "event_time": int(now),
            "authorizations": [{"team_id": self.ws.team, "user_id": BOT_USER, "is_bot": True,
                                "is_enterprise_install": False}],
            "event": {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT_USER}> {text}",
                      "ts": ts, "event_ts": ts, "team": self.ws.team}})
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now,
                   "X-Slack-Signature": self.verifier.generate_signature(timestamp=now, body=body) or ""}
        seen = len(self.fake.calls)
        sent = time.monotonic()
        async with session.post(self.url + "/slack/events", data=body.encode(), headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"whybot answered {response.status} to a mention")
        acked = time.monotonic()

        def answered() -> bool:
            return any(c.method == "chat.postMessage" and c.args.get("thread_ts") == ts for c in self.fake.calls[seen:])

        await self.fake.wait_for(answered, within=30.0)
        posted = next(c.at for c in self.fake.calls[seen:] if c.method == "chat.postMessage"
                      and c.args.get("thread_ts") == ts)
        return {"ack_ms": (acked - sent) * 1000, "answer_ms": (posted - sent) * 1000}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="whybot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print("seeding the workspace…", file=sys.stderr, flush=True)
        ws = seed_workspace(tmp, size=args.size)
        fake = build(ws.export, args.mentions)
        await fake.start()
        proc = await asyncio.to_thread(start_whybot, tmp, ws, fake.api_url)  # the fake keeps serving meanwhile
        try:
            driver = Driver(fake, proc.url, ws)
            questions = ws.questions
            channels = [bench_channel(i) for i in range(args.mentions)]
            passes: list[dict[str, Any]] = []
            async with aiohttp.ClientSession() as session:
                cold = []
                for i, channel in enumerate(channels):  # first visit: channel + person lookups
                    cold.append(await driver.mention(session, channel, ws.users[i % len(ws.users)],
                                                     questions[i % len(questions)][1]))
                for rep in range(args.repeat):
                    await asyncio.sleep(1.1)  # past Slack's per-channel pacing window of the last pass
                    load_before = load_average()
                    samples = []
                    for i, channel in enumerate(channels):
                        q = questions[(i + 7 * (rep + 1)) % len(questions)][1]
                        samples.append(await driver.mention(session, channel, ws.users[i % len(ws.users)], q))
                    passes.append({"repeat": rep, "answer": stats([s["answer_ms"] for s in samples]),
                                   "ack": stats([s["ack_ms"] for s in samples]),
                                   "load_before": load_before, "load_after": load_average()})
                    print(json.dumps(passes[-1]), file=sys.stderr, flush=True)
            posts = fake.called("chat.postMessage")
            declined = sum(1 for c in posts if "couldn't find" in str(c.args.get("text", "")))
        finally:
            await asyncio.to_thread(proc.stop)
            await fake.close()
            if args.keep_logs:
                (args.out.parent / "slack_e2e.whybot.log").write_text((tmp / "whybot.log").read_text())
    return {"mentions_per_pass": args.mentions, "repeat": args.repeat, "workspace_size": args.size,
            "import_s": round(ws.import_s, 2), "cold": {"answer": stats([s["answer_ms"] for s in cold]),
                                                         "ack": stats([s["ack_ms"] for s in cold])},
            "passes": passes, "posts": len(posts), "declined": declined,
            "sample_answer": posts[-1].args.get("text", "")[:400] if posts else "",
            "median": {"answer_p50_ms": med([p["answer"]["p50_ms"] for p in passes]),
                       "answer_p99_ms": med([p["answer"]["p99_ms"] for p in passes]),
                       "ack_p50_ms": med([p["ack"]["p50_ms"] for p in passes]),
                       "ack_p99_ms": med([p["ack"]["p99_ms"] for p in passes])}}


def med(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench slack-e2e")
    parser.add_argument("--mentions", type=int, default=200, help="sequential mentions per measured pass")
    parser.add_argument("--repeat", type=int, default=3, help="measured passes")
    parser.add_argument("--size", default="small", help="`whybot synth` size of the seeded workspace")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/slack_e2e.json"))
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    m, cold = report["median"], report["cold"]
    print("| mentions | answer p50 ms | answer p99 ms | ack p50 ms | ack p99 ms |\n|---|---:|---:|---:|---:|")
    print(f"| {args.repeat} x {args.mentions}, warm channels (median of passes) | {m['answer_p50_ms']} | "
          f"{m['answer_p99_ms']} | {m['ack_p50_ms']} | {m['ack_p99_ms']} |")
    print(f"| {args.mentions}, first mention in each channel | {cold['answer']['p50_ms']} | "
          f"{cold['answer']['p99_ms']} | {cold['ack']['p50_ms']} | {cold['ack']['p99_ms']} |")
    return 0
