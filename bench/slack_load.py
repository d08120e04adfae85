"""Open-loop load of signed Slack `app_mention` events, as its own process (the server never shares its CPU time).

    python -m bench.slack_load --url http://127.0.0.1:PORT/slack/events --rate 200 --duration 10 \
        --secret S --team T --channels C1 C2 … --users U1 U2 … --texts "…" "…" [--prefix run1]

Every request is signed with Slack's v0 scheme (slack_sdk's SignatureVerifier) over a timestamp taken
when the process starts, and carries a unique event_id, so neither signature checks nor deduplication
short-circuit. Requests leave on a fixed schedule (i / rate seconds after the start) whether or not
earlier ones were answered, as Slack's do. Latency is from the moment a request is sent to its
complete response. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

SLACK_TIMEOUT_S = 3.0  # Slack counts an event as failed (and retries it) when not acked within 3 s


def bodies(args: argparse.Namespace, n: int) -> list[tuple[bytes, dict[str, str]]]:
    ts = str(int(time.time()))
    verifier = SignatureVerifier(args.secret)
    out = []
    for i in range(n):
        channel, user = args.channels[i % len(args.channels)], args.users[i % len(args.users)]
        if args.kind != "mention":
            body, content_type = interaction(args, i, channel, user)
            headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body) or ""}
            out.append((body.encode(), headers))
            continue
        msg_ts = f"{1_800_000_000 + args.offset + i}.{i % 1_000_000:06d}"
        body = json.dumps({
            "token": "legacy", "team_id": args.team, "api_app_id": "A0BENCH", "type": "event_callback",
            "event_id": f"Ev{args.prefix}{i:07d}", "event_time": int(ts),
            "authorizations": [{"team_id": args.team, "user_id": args.bot_user, "is_bot": True,
                                "is_enterprise_install": False}],
            "event": {"type": "app_mention", "channel": channel, "user": user,
                      "text": f"<@{args.bot_user}> {args.texts[i % len(args.texts)]}", "ts": msg_ts,
                      "event_ts": msg_ts, "team": args.team},
        })
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body) or ""}
        out.append((body.encode(), headers))
    return out


def interaction(args: argparse.Namespace, i: int, channel: str, user: str) -> tuple[str, str]:
    """A `/whybot help` slash command or a Why? click on a bot message, form-encoded as Slack sends them."""
    trigger = f"trig.{args.prefix}.{i}"
    if args.kind == "command":
        return urlencode({"token": "legacy", "team_id": args.team, "channel_id": channel, "channel_name": "bench",
                          "user_id": user, "command": "/whybot", "text": "help", "api_app_id": "A0BENCH",
                          "response_url": f"{args.response_base}/cmd{i}", "trigger_id": trigger}), \
            "application/x-www-form-urlencoded"
    payload = {"type": "block_actions", "team": {"id": args.team}, "user": {"id": user, "team_id": args.team},
               "api_app_id": "A0BENCH", "token": "legacy", "trigger_id": trigger,
               "container": {"type": "message", "message_ts": "1.0", "channel_id": channel, "is_ephemeral": False},
               "channel": {"id": channel}, "response_url": f"{args.response_base}/click{i}",
               "actions": [{"type": "button", "action_id": "whybot_why", "block_id": "b", "value": f"d_bench{i}",
                            "action_ts": f"{i}.0"}]}
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = int(args.rate * args.duration)
    requests = bodies(args, n)
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=0, force_close=args.no_keepalive)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def one(i: int) -> None:
            body, headers = requests[i]
            started = time.perf_counter()
            try:
                async with session.post(args.url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors[f"http_{response.status}"] += 1
                        return
            except TimeoutError:
                errors["timeout"] += 1
                return
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - started)

        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        start = loop.time() + 0.2
        for i in range(n):
            due = start + i / args.rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(loop.time() - due)
            tasks.append(asyncio.create_task(one(i)))
            if args.redeliver and (i * 7919) % 100 < args.redeliver * 100:  # Slack's retry of the same event
                body, headers = requests[i]
                requests.append((body, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
                tasks.append(asyncio.create_task(one(len(requests) - 1)))
        sent_s = loop.time() - start
        await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    lag = sorted(lags)
    return {
        "rate": args.rate, "sent": n, "ok": len(latencies), "errors": dict(errors),
        "error_count": sum(errors.values()), "achieved_rate": round(n / sent_s, 1) if sent_s > 0 else None,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2) if ordered else None,
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        "over_3s": sum(1 for x in ordered if x > SLACK_TIMEOUT_S),
        "send_lag_p99_ms": round(percentile(lag, 0.99) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_load")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--secret", required=True, help="the signing secret")
    parser.add_argument("--team", required=True)
    parser.add_argument("--bot-user", default="UBOT")
    parser.add_argument("--channels", nargs="+", required=True)
    parser.add_argument("--users", nargs="+", required=True)
    parser.add_argument("--texts", nargs="+", default=["help"])
    parser.add_argument("--prefix", default="", help="makes event ids unique across runs")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--no-keepalive", action="store_true", help="a new connection for every request")
    parser.add_argument("--kind", choices=["mention", "command", "why"], default="mention")
    parser.add_argument("--redeliver", type=float, default=0.0, help="share of events sent again as Slack's retry")
    parser.add_argument("--offset", type=int, default=0, help="added to message timestamps (unique threads)")
    parser.add_argument("--response-base", default="http://127.0.0.1:9/respond", help="response_url base")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
