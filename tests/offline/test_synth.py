"""The synthetic workspace generator and its Slack export: determinism, export shape, label integrity,
and that private facts stay inside their private channel."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.text import terms
from offline.synth import SIZES, generate, labels, write_export

DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    assert main(["synth", "--seed", "11", "--size", "small", "--out", str(out)]) == 0
    return out


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _messages(export: Path) -> dict[str, list[dict[str, Any]]]:
    """channel id -> messages in file order, across its daily files."""
    channels = _load(export / "channels.json") + _load(export / "groups.json")
    out: dict[str, list[dict[str, Any]]] = {}
    for ch in channels:
        folder = export / ch["name"]
        out[ch["id"]] = [m for f in sorted(folder.iterdir()) for m in _load(f)] if folder.exists() else []
    return out


def test_same_seed_same_export_and_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_export(generate(5, "small"), a)
    write_export(generate(5, "small"), b)
    write_export(generate(6, "small"), c)
    assert _tree(a) == _tree(b)
    assert _tree(a)["labels.json"] != _tree(c)["labels.json"]


def test_sizes_hit_their_message_budgets() -> None:
    small = generate(2, "small")
    started = time.perf_counter()
    medium = generate(2, "medium")
    elapsed = time.perf_counter() - started
    assert 1_000 <= len(small.messages) <= 2_000
    assert 15_000 <= len(medium.messages) <= 25_000
    assert elapsed < 10, f"medium took {elapsed:.1f}s"
    assert SIZES["large"].threads > 10 * SIZES["medium"].threads / 2


def test_export_has_slack_layout(export: Path) -> None:
    users = _load(export / "users.json")
    channels = _load(export / "channels.json")
    groups = _load(export / "groups.json")
    user_ids = {u["id"] for u in users}
    humans = [u for u in users if not u["is_bot"]]
    assert all(u["tz"] and isinstance(u["tz_offset"], int) and u["profile"]["title"] for u in humans)
    assert len({u["tz"] for u in humans}) >= 4
    assert any(u["is_bot"] for u in users) and any(u["deleted"] for u in users)
    assert {c["name"] for c in channels} >= {"engineering", "incidents", "support", "random", "announcements"}
    assert sum(c["is_general"] for c in channels) == 1
    assert groups and all(g["name"] not in {c["name"] for c in channels} for g in groups)
    for group in groups:
        assert set(group["members"]) <= user_ids
        assert 0 < len(group["members"]) < len(humans)
    for ch in channels + groups:
        files = list((export / ch["name"]).iterdir())
        assert files and all(DAY_FILE.match(f.name) for f in files)
        for f in files:
            for m in _load(f):
                day = datetime.fromtimestamp(float(m["ts"]), UTC).strftime("%Y-%m-%d")
                assert f.name == f"{day}.json"


def test_messages_and_threads_are_consistent(export: Path) -> None:
    groups = {g["id"]: set(g["members"]) for g in _load(export / "groups.json")}
    subtypes: Counter[str] = Counter()
    for channel, messages in _messages(export).items():
        by_ts = {m["ts"]: m for m in messages}
        assert len(by_ts) == len(messages), "ts must be unique within a channel"
        assert [float(m["ts"]) for m in messages] == sorted(float(m["ts"]) for m in messages)
        for m in messages:
            assert m["type"] == "message" and re.fullmatch(r"\d{10}\.\d{6}", m["ts"])
            subtypes[m.get("subtype", "")] += 1
            if m.get("subtype") == "bot_message":
                assert m["bot_id"].startswith("B") and "user" not in m
            elif m.get("subtype") != "tombstone" and channel in groups:
                assert m["user"] in groups[channel], "only members post in a private channel"
            for r in m.get("reactions", []):
                assert r["count"] == len(r["users"]) > 0
            if "edited" in m:
                assert float(m["edited"]["ts"]) >= float(m["ts"])
            if m.get("replies"):
                assert m["thread_ts"] == m["ts"] and m["reply_count"] == len(m["replies"])
                assert m["latest_reply"] == m["replies"][-1]["ts"]
                for ref in m["replies"]:
                    reply = by_ts[ref["ts"]]
                    assert reply["thread_ts"] == m["ts"]
            elif "thread_ts" in m:
                root = by_ts[m["thread_ts"]]
                assert any(r["ts"] == m["ts"] for r in root["replies"])
                assert m["parent_user_id"] == root.get("user", m["parent_user_id"])
    assert subtypes["bot_message"] and subtypes["thread_broadcast"] is not None
    assert subtypes[""] > subtypes["bot_message"]


def test_texts_carry_slack_markup(export: Path) -> None:
    texts = [m["text"] for ms in _messages(export).values() for m in ms]
    assert any(re.search(r"<@U[A-Z0-9]+>", t) for t in texts)
    assert any(re.search(r"<https?://[^>]+>", t) for t in texts)
    assert any("<!channel>" in t or "<!here>" in t for t in texts)


def test_labels_point_at_exported_messages(export: Path) -> None:
    doc = _load(export / "labels.json")
    assert doc["schema"] == "whybot-synth-labels/1"
    ids = {f"{ch}:{m['ts']}": m for ch, ms in _messages(export).items() for m in ms}
    assert doc["threads"] and all(t["id"] in ids and set(t["messages"]) <= ids.keys() for t in doc["threads"])
    assert {t["importance"] for t in doc["threads"]} == {0, 1, 2, 3}
    kinds = Counter(t["kind"] for t in doc["threads"])
    assert set(kinds) >= {"incident", "decision", "question_answered", "question_unanswered", "action_items",
                          "deadline", "announcement", "chitchat", "bot_notification", "off_topic", "private"}
    recent = sum(t["recent"] for t in doc["threads"])
    assert recent >= len(doc["threads"]) * 0.08, "the last 24 h must be dense"
    assert len(doc["questions"]) >= 30
    for q in doc["questions"]:
        assert q["answers"] and set(q["answers"]) <= ids.keys()
        if q["asked"]:
            assert q["asked"] in ids
            assert q["question"].lower() != ids[q["asked"]]["text"].lower(), "eval question must be a paraphrase"
        for fact in q["facts"]:
            assert any(fact in ids[a]["text"] for a in q["answers"]), (q, fact)
    assert len(doc["unanswerable"]) >= 20
    assert {u["skill"] for u in doc["utterances"]} == {"ask", "summarize", "digest", "help", "people"}
    # paraphrases keep the subject's names and nothing else of the answering thread's words
    by_thread: dict[str, set[str]] = {}
    for t in doc["threads"]:
        by_thread[t["id"]] = {w for m in t["messages"] for w in terms(ids[m]["text"])}
    questions = {q["id"]: q for q in doc["questions"]}
    assert len(doc["paraphrases"]) >= 0.8 * len(doc["questions"])
    thread_of = {m: t["id"] for t in doc["threads"] for m in t["messages"]}
    for p in doc["paraphrases"]:
        original = questions[p["of"]]
        assert p["answers"] == original["answers"] and p["question"] != original["question"]
        source = set().union(*(by_thread[thread_of[a]] for a in p["answers"]))
        # whatever the paraphrase shares with its answers' threads, the original shares too (the names)
        assert set(terms(p["question"])) & source <= set(terms(original["question"])) & source, p
    assert {f["of"] for f in doc["follow_ups"]} <= questions.keys()
    assert doc["deleted"]
    for d in doc["deleted"]:  # gone, or a tombstone kept because the thread has replies
        assert d["id"] not in ids or (ids[d["id"]]["subtype"] == "tombstone" and d["text"] not in ids[d["id"]]["text"])


def test_private_facts_stay_in_their_channel(export: Path) -> None:
    doc = _load(export / "labels.json")
    groups = {g["id"] for g in _load(export / "groups.json")}
    messages = _messages(export)
    public_text = "\n".join(m["text"] for ch, ms in messages.items() if ch not in groups for m in ms)
    assert doc["private_facts"]
    for item in doc["private_facts"]:
        assert item["channel"] in groups
        home = {f"{item['channel']}:{m['ts']}": m["text"] for m in messages[item["channel"]]}
        assert item["fact"] in home[item["message"]]
        assert item["fact"] not in public_text
    elsewhere = json.dumps([doc["questions"], doc["utterances"], doc["unanswerable"]])
    assert not any(item["fact"] in elsewhere for item in doc["private_facts"])


def test_labels_are_json_serialisable_in_memory() -> None:
    ws = generate(3, "small")
    doc = labels(ws)
    assert json.loads(json.dumps(doc))["seed"] == 3


def test_cli_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert main(["synth", "--seed", "1", "--out", str(tmp_path)]) == 2
