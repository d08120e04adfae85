"""Issue 11's queue benchmarks against `whybot serve` (its worker processes answering), on loopback:

1. **Clicks behind a backlog:** 1,000 mentions arrive in one second; while they wait in the inbox, slash
   commands and Why? clicks arrive at 20/s each for 5 s. Slack gives up at 3 s; the target is p99 < 300 ms.
2. **Sustained load with redelivery:** 200 mentions/s for 20 s, 10% of them delivered a second time as
   Slack's retry. Reported: answers per second, the oldest queued turn (sampled from /metrics), the server's
   and workers' CPU, and from the fake Slack: answers posted, duplicates (a thread answered twice), lost.

    python -m bench slack-backlog [--size small] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from bench.slack_rig import (
    BOT_USER,
    SIGNING_SECRET,
    Proc,
    bench_channels,
    fake_stats,
    load_average,
    seed_workspace,
    start_fake_slack,
    start_whybot,
)


def load(target: Proc, fake: Proc, ws: Any, channels: list[str], *, rate: float, duration: float, prefix: str,
         kind: str = "mention", redeliver: float = 0.0, offset: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.slack_load", "--url", target.url + "/slack/events", "--rate", str(rate),
         "--duration", str(duration), "--secret", SIGNING_SECRET, "--team", ws.team, "--bot-user", BOT_USER,
         "--prefix", prefix, "--kind", kind, "--redeliver", str(redeliver), "--offset", str(offset),
         "--response-base", fake.url.replace("/api/", "") + "/respond", "--channels", *channels,
         "--users", *ws.users, "--texts", *[q for _, q in ws.questions][:50]],
        stdout=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate()
    return dict(json.loads(out.strip().splitlines()[-1]))


def metric(base: str, name: str) -> float | None:
    with urlopen(base + "/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (from /proc: the server and its worker children)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *kids]


def wait_for(fake: Proc, posted: int, within: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if fake_stats(fake)["posted"] >= posted:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="whybot-backlog-") as tmp_name:
        tmp = Path(tmp_name)
        print("seeding the workspace…", file=sys.stderr, flush=True)
        ws = seed_workspace(tmp, size=args.size, db_url=args.database_url)
        channels = bench_channels(500)
        fake = start_fake_slack(tmp, ws, 500)
        procs = [fake]
        try:
            whybot = start_whybot(tmp, ws, fake.url)
            procs.append(whybot)
            # warm-up: auth.test, the index, first channel and user syncs
            result(load(whybot, fake, ws, channels, rate=50, duration=1, prefix="warm"))
            wait_for(fake, 50, 120)
            before = fake_stats(fake)
            # 1. clicks and commands while 1,000 mentions wait
            backlog = load(whybot, fake, ws, channels, rate=1000, duration=1, prefix="bl", offset=10_000)
            time.sleep(1.2)
            depth = metric(whybot.url, 'whybot_queue_depth{state="pending"}')
            commands = load(whybot, fake, ws, channels, rate=20, duration=5, prefix="cmd", kind="command")
            clicks = load(whybot, fake, ws, channels, rate=20, duration=5, prefix="why", kind="why")
            phase1 = {"backlog": result(backlog), "queue_pending_when_clicks_started": depth,
                      "commands": result(commands), "why_clicks": result(clicks)}
            print(json.dumps(phase1), file=sys.stderr, flush=True)
            drained = wait_for(fake, before["posted"] + 1000, args.drain_timeout)
            phase1["backlog_drained_s"] = drained
            # 2. 200 mentions/s for 20 s, 10% redelivered
            start_stats = fake_stats(fake)
            pids = family(whybot.popen.pid)
            cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
            ages: list[float] = []
            sustained = load(whybot, fake, ws, channels, rate=200, duration=20, prefix="sus", redeliver=0.1,
                             offset=20_000)
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    age = metric(whybot.url, "whybot_queue_oldest_seconds")
                    if age is not None:
                        ages.append(age)
                    time.sleep(1.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            sent = result(sustained)
            unique = 4000
            drain_s = wait_for(fake, start_stats["posted"] + unique, args.drain_timeout)
            stop.set()
            sampler.join(timeout=5)
            time.sleep(3.0)  # late duplicates would show up here
            end_stats = fake_stats(fake)
            wall = time.monotonic() - wall_before
            answered = end_stats["posted"] - start_stats["posted"]
            ages.sort()
            phase2 = {"load": sent, "unique_mentions": unique, "answered": answered,
                      "duplicates": end_stats["duplicates"] - start_stats["duplicates"],
                      "lost": max(0, unique - answered), "drain_after_load_s": drain_s,
                      "answers_per_s": round(answered / wall, 1),
                      "queue_oldest_p99_s": ages[min(len(ages) - 1, round(0.99 * (len(ages) - 1)))] if ages else None,
                      "cpu_percent_of_one_core": round(100 * (cpu_seconds(pids) - cpu_before) / wall, 1),
                      "load_average": load_average()}
            print(json.dumps(phase2), file=sys.stderr, flush=True)
        finally:
            for proc in reversed(procs):
                proc.stop()
    return {"clicks_behind_backlog": phase1, "sustained": phase2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench slack-backlog")
    parser.add_argument("--size", default="small")
    parser.add_argument("--database-url")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/slack_backlog.json"))
    args = parser.parse_args(argv)
    out = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    p1, p2 = out["clicks_behind_backlog"], out["sustained"]
    print("| measure | p50 ms | p99 ms | max ms | errors |\n|---|---:|---:|---:|---:|")
    for name in ("commands", "why_clicks"):
        r = p1[name]
        print(f"| {name} ack with {p1['queue_pending_when_clicks_started']} turns pending | {r['p50_ms']} | "
              f"{r['p99_ms']} | {r['max_ms']} | {r['error_count']} |")
    print(f"\nsustained 200/s x 20 s, 10% redelivered: {p2['answered']} answered of {p2['unique_mentions']}, "
          f"{p2['duplicates']} duplicates, {p2['lost']} lost, {p2['answers_per_s']} answers/s, oldest queued p99 "
          f"{p2['queue_oldest_p99_s']} s, CPU {p2['cpu_percent_of_one_core']}% of one core, ack p99 "
          f"{p2['load']['p99_ms']} ms, drained {p2['drain_after_load_s']} s after the load")
    return 0
