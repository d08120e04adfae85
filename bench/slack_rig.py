"""What the Slack benchmarks share: a seeded workspace, and the processes they run on loopback.

The workspace is a `whybot synth` export imported with `whybot import slack-export` into a fresh
SQLite file, so whybot answers questions over real-looking history. Processes: the fake Slack Web API
(bench.slack_fake), `whybot serve` itself, and the bare Bolt app (bench.bolt_floor); each logs to a
file in the run's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.request import Request, urlopen

from bench.slack_fake import BENCH_TOKEN, bench_channel, export_workspace

SIGNING_SECRET = "bench-signing-secret"
BOT_USER = "UBOT"
DOMAIN = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def whybot_cli() -> list[str]:
    return [sys.executable, "-m", "bot.cli"]


@dataclass
class Workspace:
    export: Path
    db_url: str
    team: str
    users: list[str]
    channels: list[str]  # public channels of the export
    questions: list[tuple[str, str]]  # (channel, question) from the export's labels
    import_s: float


def seed_workspace(tmp: Path, *, size: str = "small", seed: int = 1, db_url: str | None = None) -> Workspace:
    """A synthetic workspace, exported and imported the way an operator would: into tmp/whybot.db, or into
    the (empty) database at `db_url`, e.g. PostgreSQL."""
    export = tmp / "export"
    subprocess.run([*whybot_cli(), "synth", "--size", size, "--seed", str(seed), "--out", str(export)],
                   check=True, capture_output=True)
    db_url = db_url or f"sqlite+aiosqlite:///{tmp / 'whybot.db'}"
    subprocess.run([*whybot_cli(), "db", "upgrade", "--database-url", db_url], check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([*whybot_cli(), "import", "slack-export", str(export), "--domain", DOMAIN,
                    "--database-url", db_url], check=True, capture_output=True)
    import_s = time.perf_counter() - started
    team, users, channels = export_workspace(export)
    labels = json.loads((export / "labels.json").read_text())
    public = [c["id"] for c in channels if not c.get("is_private")]
    said = export_texts(export, channels)
    # The labelled questions as first asked in the history: the extractive backend answers most of
    # them (the paraphrased label wording is mostly declined, which skips the answering work).
    questions = [(q["channels"][0], said[q["asked"]]) for q in labels["questions"]
                 if q.get("channels") and q["channels"][0] in public and q.get("asked") in said]
    return Workspace(export=export, db_url=db_url, team=team, users=[u["id"] for u in users
                                                                     if not u.get("is_bot")],
                     channels=public, questions=questions, import_s=import_s)


def export_texts(export: Path, channels: list[dict[str, Any]]) -> dict[str, str]:
    """Message texts of an export by "CHANNEL:ts", mentions of people stripped."""
    texts: dict[str, str] = {}
    for c in channels:
        for day in sorted((export / c["name"]).glob("*.json")):
            for m in json.loads(day.read_text()):
                if m.get("ts") and m.get("text"):
                    texts[f"{c['id']}:{m['ts']}"] = re.sub(r"<@[A-Z0-9]+>\s*", "", m["text"]).strip()
    return texts


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[str]
    log: IO[str]
    url: str = ""
    interrupt: bool = False  # stop with SIGINT (py-spy writes its profile then), not SIGTERM

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT if self.interrupt else signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def wait_http(url: str, proc: Proc, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log.name}")
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {within:.0f}s; see {proc.log.name}")


def start_fake_slack(tmp: Path, ws: Workspace, bench_channels: int) -> Proc:
    log = open(tmp / "fake_slack.log", "w")  # noqa: SIM115 - closed by Proc.stop
    popen = subprocess.Popen([sys.executable, "-m", "bench.slack_fake", "--export", str(ws.export),
                              "--bench-channels", str(bench_channels)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    assert popen.stdout is not None
    url = popen.stdout.readline().strip()
    if not url:
        raise RuntimeError(f"the fake Slack did not start; see {log.name}")
    return Proc("fake slack", popen, log, url=url)


def fake_stats(fake: Proc) -> dict[str, Any]:
    request = Request(fake.url + "bench.stats", data=b"", headers={"Authorization": f"Bearer {BENCH_TOKEN}"})
    with urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def trim_fake(fake: Proc) -> None:
    assert fake.popen.stdin is not None
    fake.popen.stdin.write("trim\n")
    fake.popen.stdin.flush()


def start_whybot(tmp: Path, ws: Workspace, api_url: str, *, extra_env: dict[str, str] | None = None) -> Proc:
    port = free_port()
    env = {**os.environ, "WHYBOT_HOST": "127.0.0.1", "WHYBOT_PORT": str(port), "WHYBOT_DATABASE_URL": ws.db_url,
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BENCH_TOKEN, "SLACK_API_URL": api_url,
           "WHYBOT_PLAYGROUND": "false",
           # load from a few synthetic people, far past any person's rate limit
           "WHYBOT_RATE_LIMIT_PER_MINUTE": "0", "WHYBOT_RATE_LIMIT_PER_HOUR": "0", **(extra_env or {})}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        env.pop(key, None)
    log = open(tmp / "whybot.log", "w")  # noqa: SIM115 - closed by Proc.stop
    popen = subprocess.Popen([*whybot_cli(), "serve"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
                             text=True)
    proc = Proc("whybot serve", popen, log, url=f"http://127.0.0.1:{port}")
    wait_http(proc.url + "/healthz", proc)
    return proc


def start_bolt_floor(tmp: Path, fake: Proc) -> Proc:
    port = free_port()
    env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BENCH_TOKEN,
           "SLACK_API_URL": fake.url}
    log = open(tmp / "bolt_floor.log", "w")  # noqa: SIM115 - closed by Proc.stop
    popen = subprocess.Popen([sys.executable, "-m", "bench.bolt_floor", "--port", str(port)], env=env,
                             stdout=log, stderr=subprocess.STDOUT, text=True)
    proc = Proc("bare bolt", popen, log, url=f"http://127.0.0.1:{port}")
    wait_http(proc.url + "/healthz", proc)
    return proc


def bench_channels(count: int) -> list[str]:
    return [bench_channel(i) for i in range(count)]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)
