"""Slack ack latency: signed app_mention events at fixed rates against `whybot serve` and a bare Bolt app.

    python -m bench slack-ack [--rates 50 200 500] [--duration 10] [--repeat 3] [--bench-channels 500]

Runs, on loopback, each in its own process: the fake Slack Web API (tests/peers/slack.py), `whybot serve`
(SQLite, a seeded synthetic workspace, the embedded extractive backend), the bare Bolt app
(bench.bolt_floor) and, for every measurement, a fresh load generator (bench.slack_load). For each
repeat and rate, whybot and the bare app take the same load one after the other (the order alternates
between repeats). After whybot's turn we wait until every mention has been answered in the fake Slack
and report how long that backlog took to drain after the last event was sent; the next run starts on an
idle server. The table gives medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.slack_rig import (
    BOT_USER,
    SIGNING_SECRET,
    Proc,
    bench_channels,
    fake_stats,
    load_average,
    seed_workspace,
    start_bolt_floor,
    start_fake_slack,
    start_whybot,
    trim_fake,
)

TARGET_RATIO_AT_200 = 1.2
SLACK_TIMEOUT_MS = 3000.0


def load(target: Proc, *, rate: float, duration: float, team: str, channels: list[str], users: list[str],
         texts: list[str], prefix: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.slack_load", "--url", target.url + "/slack/events",
                          "--rate", str(rate), "--duration", str(duration), "--secret", SIGNING_SECRET,
                          "--team", team, "--bot-user", BOT_USER, "--prefix", prefix,
                          "--channels", *channels, "--users", *users, "--texts", *texts],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def drain(fake: Proc, expected: int, sent_at: float, within: float) -> float | None:
    """Seconds from the end of the load until `expected` replies were posted (None: not within `within`)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        stats = fake_stats(fake)
        if stats["posted"] >= expected:
            return round(max(0.0, time.monotonic() - sent_at), 2)
        time.sleep(0.2)
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="whybot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print("seeding the workspace…", file=sys.stderr, flush=True)
        ws = seed_workspace(tmp, size=args.size, db_url=args.database_url)
        channels = bench_channels(args.bench_channels)
        texts = [q for _, q in ws.questions][:50] if args.texts is None else args.texts
        fake = start_fake_slack(tmp, ws, args.bench_channels)
        procs = [fake]
        try:
            whybot = start_whybot(tmp, ws, fake.url, extra_env=dict(kv.split("=", 1) for kv in args.whybot_env))
            procs.append(whybot)
            bare = start_bolt_floor(tmp, fake)
            procs.append(bare)
            # warm both (auth.test, index, first channel/user syncs) with a short burst, not measured
            for target in (whybot, bare):
                load(target, rate=50, duration=2, team=ws.team, channels=channels, users=ws.users, texts=texts,
                     prefix=f"warm{target.name[:1]}")
            drain(fake, 100, time.monotonic(), args.drain_timeout)
            if args.py_spy:  # sample whybot while it is under load (collapsed stacks, for flame graphs)
                spy_bin = str(Path(sys.executable).with_name("py-spy"))
                spy = subprocess.Popen([spy_bin, "record", "--pid", str(whybot.popen.pid), "--format", "raw",
                                        "--rate", "200", "--output", str(args.py_spy.resolve())],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append(Proc("py-spy", spy, open(tmp / "py-spy.log", "w"), interrupt=True))  # noqa: SIM115
            for rep in range(args.repeat):
                for rate in args.rates:
                    order = [whybot, bare] if rep % 2 == 0 else [bare, whybot]
                    for target in order:
                        trim_fake(fake)
                        time.sleep(0.3)
                        before = fake_stats(fake)["posted"]
                        load_before = load_average()
                        result = load(target, rate=rate, duration=args.duration, team=ws.team, channels=channels,
                                      users=ws.users, texts=texts, prefix=f"r{rep}x{int(rate)}{target.name[:1]}")
                        sent_at = time.monotonic()
                        result.update(server="whybot" if target is whybot else "bare bolt", repeat=rep,
                                      load_before=load_before, load_after=load_average())
                        if target is whybot:
                            result["drain_s"] = drain(fake, before + result["ok"], sent_at, args.drain_timeout)
                        else:
                            time.sleep(1.0)
                        results.append(result)
                        print(json.dumps(result), file=sys.stderr, flush=True)
        finally:
            for proc in reversed(procs):
                proc.stop()
        if args.keep_logs:
            for name in ("whybot.log", "fake_slack.log", "bolt_floor.log"):
                if (tmp / name).exists():
                    (args.out.parent / f"slack_ack.{name}").write_text((tmp / name).read_text())
    return {"machine": machine(), "duration_s": args.duration, "repeat": args.repeat, "runs": results,
            "summary": summarize(results, args.rates)}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def med(values: list[Any]) -> float | None:
    clean = [v for v in values if v is not None]
    return round(statistics.median(clean), 2) if clean else None


def summarize(results: list[dict[str, Any]], rates: list[float]) -> list[dict[str, Any]]:
    rows = []
    for rate in rates:
        row: dict[str, Any] = {"rate": rate}
        for server in ("whybot", "bare bolt"):
            runs = [r for r in results if r["rate"] == rate and r["server"] == server]
            row[server] = {"p50_ms": med([r["p50_ms"] for r in runs]), "p99_ms": med([r["p99_ms"] for r in runs]),
                           "max_ms": med([r["max_ms"] for r in runs]),
                           "errors": sum(r["error_count"] for r in runs),
                           "over_3s": sum(r["over_3s"] for r in runs), "sent": sum(r["sent"] for r in runs),
                           "achieved_rate": med([r["achieved_rate"] for r in runs]),
                           "load": med([r["load_after"] for r in runs])}
            if server == "whybot":
                row[server]["drain_s"] = med([r.get("drain_s") for r in runs])
                row[server]["undrained"] = sum(1 for r in runs if r.get("drain_s") is None)
        # ratio per repeat (side by side), then the median of the ratios
        ratios = []
        for rep in {r["repeat"] for r in results}:
            w = [r for r in results if r["rate"] == rate and r["server"] == "whybot" and r["repeat"] == rep]
            b = [r for r in results if r["rate"] == rate and r["server"] == "bare bolt" and r["repeat"] == rep]
            if w and b and w[0]["p99_ms"] and b[0]["p99_ms"]:
                ratios.append(w[0]["p99_ms"] / b[0]["p99_ms"])
        row["p99_ratio"] = med(ratios)
        rows.append(row)
    return rows


def table(summary: list[dict[str, Any]]) -> str:
    lines = ["| events/s | server | ack p50 ms | ack p99 ms | max ms | errors | > 3 s | p99 ratio | backlog drain s |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in summary:
        for server in ("whybot", "bare bolt"):
            s = row[server]
            ratio = f"{row['p99_ratio']}x" if server == "whybot" and row["p99_ratio"] is not None else ""
            drain_s = s.get("drain_s", "") if server == "whybot" else ""
            lines.append(f"| {row['rate']:g} | {server} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} | "
                         f"{s['errors']}/{s['sent']} | {s['over_3s']} | {ratio} | {drain_s} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench slack-ack")
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0, 500.0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bench-channels", type=int, default=500,
                        help="mentions are spread over this many channels (Slack allows ~1 post/s/channel)")
    parser.add_argument("--size", default="small", help="`whybot synth` size of the seeded workspace")
    parser.add_argument("--database-url", help="an empty database to seed and serve from (default: SQLite in the "
                                               "run's temporary folder), e.g. a PostgreSQL database")
    parser.add_argument("--texts", nargs="+", help="mention texts (default: questions from the workspace)")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--whybot-env", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra environment for whybot serve (e.g. PYTHONASYNCIODEBUG=1)")
    parser.add_argument("--py-spy", type=Path, help="profile whybot with py-spy into this file (raw stacks)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/slack_ack.json"))
    args = parser.parse_args(argv)
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report["summary"]))
    return 0
