"""`whybot eval` end to end: the small seeded workspace meets the checked-in thresholds and reports
every metric; a workspace whose private channel is exported as public leaks and fails; the LLM
column runs against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from offline.evaluation.report import load_thresholds
from offline.synth import generate, write_export
from tests.peers.fake_openai import FakeOpenAI

METRICS = {
    "router.accuracy", "ask.recall_at_5", "ask.mrr", "ask.thread_recall_at_5", "ask.false_decline_rate",
    "ask.citation_precision", "ask.citation_thread_precision", "ask.fact_rate", "ask.unanswerable_decline_rate",
    "privacy.fact_leaks", "privacy.source_leaks", "privacy.member_found_rate", "digest.ndcg_at_5",
    "digest.recency_ndcg_at_5", "digest.ndcg_gain_over_recency", "digest.precision_at_5",
    "digest.recency_precision_at_5", "latency.ask.p50_ms", "latency.ask.p95_ms", "latency.digest.p95_ms",
    "latency.summarize.p95_ms", "latency.help.p95_ms",
}


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's OPENAI_* variables and .env must not decide what these tests run."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WHYBOT_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "eval.json").read_text()))


def test_eval_on_the_small_seeded_workspace_meets_the_thresholds(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["eval", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "all" in printed and "thresholds met" in printed
    report = _report(out)
    assert set(report["metrics"]) >= METRICS, METRICS - set(report["metrics"])
    assert report["passed"] and report["workspace"]["seed"] == 7 and report["workspace"]["size"] == "small"
    thresholds = load_thresholds()
    checked = {c["metric"] for c in report["thresholds"]}
    assert checked == set(thresholds["min"]) | set(thresholds["max"]) and all(c["ok"] for c in report["thresholds"])
    assert report["metrics"]["privacy.fact_leaks"] == 0 and report["metrics"]["privacy.source_leaks"] == 0
    # The leak probes are not vacuous: members find every private fact from inside the channel.
    assert report["metrics"]["privacy.member_found_rate"] == 1.0
    assert report["metrics"]["digest.ndcg_at_5"] > report["metrics"]["digest.recency_ndcg_at_5"]
    confusion = report["details"]["router"]["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == report["workspace"]["utterances"]
    markdown = (out / "eval.md").read_text()
    assert "| `ask.recall_at_5` |" in markdown and "## Router confusion" in markdown and "No leaks." in markdown


def _trimmed_workspace(folder: Path, keep: int = 6) -> Path:
    """The seed-7 workspace with few labelled requests, so a test run takes seconds."""
    write_export(generate(7, "small"), folder)
    labels = json.loads((folder / "labels.json").read_text())
    for key in ("questions", "unanswerable", "utterances"):
        labels[key] = labels[key][:keep]
    (folder / "labels.json").write_text(json.dumps(labels))
    return folder


def test_a_private_channel_exported_as_public_leaks_and_fails(tmp_path: Path) -> None:
    workspace = _trimmed_workspace(tmp_path / "ws")
    # The export now claims the private channel is public (labels still say its facts are private).
    groups = json.loads((workspace / "groups.json").read_text())
    channels = json.loads((workspace / "channels.json").read_text())
    (workspace / "channels.json").write_text(json.dumps(channels + groups))
    (workspace / "groups.json").write_text("[]")
    out = tmp_path / "out"
    assert main(["eval", "--workspace", str(workspace), "--out", str(out), "--digest-days", "1"]) == 1
    report = _report(out)
    assert report["metrics"]["privacy.fact_leaks"] > 0 and report["metrics"]["privacy.source_leaks"] > 0
    assert not report["passed"]
    failed = {c["metric"] for c in report["thresholds"] if not c["ok"]}
    assert {"privacy.fact_leaks", "privacy.source_leaks"} <= failed
    assert "LEAK" in (out / "eval.md").read_text()


def test_eval_rejects_a_folder_without_labels(tmp_path: Path) -> None:
    assert main(["eval", "--workspace", str(tmp_path)]) == 2


async def test_llm_column_against_a_loopback_openai_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = _trimmed_workspace(tmp_path / "ws", keep=3)
    async with FakeOpenAI(default=lambda body: "From the thread: it is answered there [1].") as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        out = tmp_path / "out"
        code = await asyncio.to_thread(main, ["eval", "--workspace", str(workspace), "--out", str(out),
                                              "--digest-days", "1", "--no-check", "--llm-limit", "3"])
        assert code == 0
        asked = len(fake.received)
    report = _report(out)
    llm = {k for k in report["metrics"] if k.startswith("ask_llm.")}
    assert {"ask_llm.recall_at_5", "ask_llm.false_decline_rate", "ask_llm.citation_precision",
            "ask_llm.unanswerable_decline_rate"} <= llm
    assert report["details"]["ask_llm"]["questions"] == 3 and asked >= 1
    assert "latency.ask_llm.p95_ms" in report["metrics"]
