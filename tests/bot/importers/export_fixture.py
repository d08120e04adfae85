"""A small Slack workspace export in the standard layout, written by tests (folder or zip)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

TEAM = "T0TEST"
USERS = [
    {"id": "U01", "team_id": TEAM, "name": "alice", "real_name": "Alice Chen", "tz": "Europe/Berlin",
     "profile": {"display_name": "Alice", "real_name": "Alice Chen"}},
    {"id": "U02", "team_id": TEAM, "name": "bob", "real_name": "Bob Okafor", "tz": "Europe/London",
     "profile": {"display_name": "", "real_name": "Bob Okafor"}},
    {"id": "U03", "team_id": TEAM, "name": "carol", "tz": "America/New_York",
     "profile": {"display_name": "Carol", "real_name": "Carol Diaz"}},
    {"id": "U04", "team_id": TEAM, "name": "deploybot", "is_bot": True, "profile": {"real_name": "Deploy Bot"}},
]
CHANNELS = [
    {"id": "C01", "name": "general", "members": ["U01", "U02", "U03"], "topic": {"value": "Everything"}},
    {"id": "C02", "name": "incidents", "members": ["U01", "U02"], "topic": {"value": ""}},
]
GROUPS = [{"id": "G01", "name": "leadership", "members": ["U01", "U03"], "topic": {"value": "Leads only"}}]

ROOT = "1709290000.000100"
DAYS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "general": {
        "2024-03-01.json": [
            {"type": "message", "subtype": "channel_join", "user": "U02", "text": "<@U02> has joined the channel",
             "ts": "1709289000.000001"},
            {"type": "message", "user": "U01", "text": "What's the deadline for the Q2 budget proposal?",
             "ts": ROOT, "thread_ts": ROOT, "reply_count": 2, "reply_users": ["U03", "U02"]},
            {"type": "message", "user": "U03", "text": "The Q2 budget proposal is due on March 15; send it to <@U01>.",
             "ts": "1709290100.000200", "thread_ts": ROOT, "parent_user_id": "U01",
             "reactions": [{"name": "+1", "users": ["U01", "U02"], "count": 2}]},
            {"type": "message", "user": "U02", "text": "Thanks!", "ts": "1709290200.000300", "thread_ts": ROOT},
            {"type": "message", "subtype": "bot_message", "bot_id": "B01", "username": "deploybot",
             "text": "Deployed api v1.2 to production", "ts": "1709291000.000400"},
        ],
        "2024-03-02.json": [
            {"type": "message", "user": "U02", "text": "Runbook for the on-call rotation, updated",
             "ts": "1709380000.000100", "edited": {"user": "U02", "ts": "1709380100.000000"},
             "files": [{"id": "F01", "name": "runbook.pdf", "title": "Runbook"}]},
            {"type": "message", "user": "U01", "text": "", "ts": "1709380200.000200",
             "files": [{"id": "F02", "name": "diagram.png", "title": "Architecture diagram"}]},
        ],
    },
    "incidents": {
        "2024-03-03.json": [
            {"type": "message", "user": "U02", "text": "Outage: the login service returned 500s for 20 minutes.",
             "ts": "1709460000.000100"},
        ],
    },
    "leadership": {
        "2024-03-01.json": [
            {"type": "message", "user": "U01", "text": "Confidential: the Q2 budget proposal will be cut by 10 percent "
             "before the deadline.", "ts": "1709295000.000100"},
        ],
    },
}


def files() -> dict[str, Any]:
    out: dict[str, Any] = {"users.json": USERS, "channels.json": CHANNELS, "groups.json": GROUPS}
    for folder, days in DAYS.items():
        for day, messages in days.items():
            out[f"{folder}/{day}"] = messages
    return out


def write_folder(root: Path) -> Path:
    for name, content in files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content), encoding="utf-8")
    return root


def write_zip(path: Path, *, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files().items():
            archive.writestr(prefix + name, json.dumps(content))
    return path
