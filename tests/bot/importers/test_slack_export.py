"""Slack export import: folder and zip, idempotent, permissions kept, then asked and cited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.backends.retrieval.bm25 import BM25Retriever
from bot.cli import main
from bot.importers.slack_export import ExportError, SlackExportImporter
from bot.ingest import Ingestor
from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.services import Services, build_services
from storage import Storage
from tests.bot.importers.export_fixture import ROOT, TEAM, write_folder, write_zip
from tests.conftest import make_settings
from tests.peers.fake_openai import FakeOpenAI

TENANT = f"slack:{TEAM}"


async def test_folder_import_keeps_people_threads_and_privacy(tmp_path: Path, storage: Storage) -> None:
    importer = SlackExportImporter(Ingestor(storage, BM25Retriever(storage)))
    report = await importer.run(write_folder(tmp_path / "export"), domain="https://acme.slack.com/")
    assert report.tenant_id == TENANT
    assert (report.users, report.channels, report.private_channels) == (4, 3, 1)
    assert report.messages_added == 8 and report.skipped["channel_join"] == 1 and report.threads == 1

    alice = await storage.workspace.get_user(TENANT, "U01")
    assert alice is not None and alice.display_name == "Alice" and alice.tz == "Europe/Berlin"
    leadership = await storage.workspace.channel(TENANT, "G01")
    assert leadership is not None and leadership.is_private and leadership.member_ids == {"U01", "U03"}
    general = await storage.workspace.channel(TENANT, "C01")
    assert general is not None and not general.is_private and general.name == "general"

    thread = await storage.messages.thread(TENANT, "C01", ROOT)
    root, answer, thanks = thread
    assert root.reply_count == 2 and answer.thread_external_id == ROOT and thanks.thread_external_id == ROOT
    assert answer.reaction_count == 2 and answer.mention_count == 1
    assert "<@U01|Alice>" in answer.text and answer.user_name == "Carol"
    assert answer.permalink == f"https://acme.slack.com/archives/C01/p1709290100000200?thread_ts={ROOT}&cid=C01"
    day_two = await storage.messages.find(TENANT, "C01", "1709380000.000100")
    assert day_two is not None and day_two.file_count == 1 and day_two.edited_at is not None
    shared = await storage.messages.find(TENANT, "C01", "1709380200.000200")
    assert shared is not None and shared.text == "shared Architecture diagram"
    bot = await storage.messages.find(TENANT, "C01", "1709291000.000400")
    assert bot is not None and bot.is_bot and bot.user_name == "deploybot"
    assert await storage.messages.find(TENANT, "C01", "1709289000.000001") is None  # join noise skipped

    again = await importer.run(tmp_path / "export")
    assert again.messages_read == report.messages_read and again.messages_added == 0
    assert await storage.messages.count(TENANT) == 8
    assert len(await storage.workspace.channels(TENANT)) == 3


async def test_zip_with_a_top_folder_and_missing_workspace(tmp_path: Path, sqlite_storage: Storage,
                                                           services: Services) -> None:
    importer = SlackExportImporter(services.ingest)
    report = await importer.run(write_zip(tmp_path / "acme.zip", prefix="Acme Slack export/"),
                                workspace_id="T0OTHER")
    assert report.tenant_id == "slack:T0OTHER" and report.messages_added == 8
    found = await sqlite_storage.messages.find("slack:T0OTHER", "C02", "1709460000.000100")
    assert found is not None and found.permalink is None  # no domain given: no invented links
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a Slack workspace export"):
        await importer.run(tmp_path / "empty")


def test_round_trip_import_ask_cite_with_llm(tmp_path: Path, sqlite_url: str) -> None:
    """The CLI imports the export; a Slack question is answered by the LLM and cites the imported reply."""
    export = write_zip(tmp_path / "export.zip")
    assert main(["import", "slack-export", str(export), "--domain", "acme", "--database-url", sqlite_url]) == 0
    reply, fake = asyncio.run(_ask_with_llm(sqlite_url, "when is the Q2 budget proposal due?"))

    cited = reply.citations[0]
    assert reply.body == f"The Q2 budget proposal is due on March 15 [{cited.number}]."
    assert cited.author == "Carol" and cited.channel == "C01"
    assert cited.permalink is not None and cited.permalink.startswith("https://acme.slack.com/archives/C01/p")
    assert reply.rationale.generator.kind == "llm"
    sent = fake.received[0].content("user")
    assert "Confidential" not in sent  # bob is not in #leadership: its message never reaches the model
    # ...and nothing in the reply or its Why? says that a hidden match exists (no existence oracle).
    assert reply.rationale.withheld_sources == 0 and not reply.private_note


async def _ask_with_llm(database_url: str, question: str) -> tuple[Reply, FakeOpenAI]:
    async with FakeOpenAI() as fake:
        def cite(body: dict[str, Any]) -> str:
            prompt = body["messages"][1]["content"]
            block = next(b for b in prompt.split("<source ")[1:] if "March 15" in b)
            n = block.split('n="', 1)[1].split('"', 1)[0]
            return f"The Q2 budget proposal is due on March 15 [{n}]."

        fake.default = cite
        settings = make_settings(database_url, OPENAI_BASE_URL=fake.base_url, WHYBOT_LLM_MODEL="test-model")
        services = await build_services(settings)
        try:
            event = ChatEvent(platform=Platform.SLACK, tenant=TEAM, channel="C01", user="U02",
                              trigger=Trigger.MENTION, text=question)
            return await services.router.handle(event), fake
        finally:
            await services.close()


def test_cli_import_docs_is_idempotent(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "handbook"
    (docs / "ops").mkdir(parents=True)
    (docs / "ops" / "deploys.md").write_text("# Deploy checklist\n\nDeploys freeze on Fridays after 15:00 UTC.\n")
    (docs / "vacation.txt").write_text("Vacation requests go through the HR portal two weeks ahead.\n")
    (docs / "logo.png").write_bytes(b"\x89PNG")
    args = ["import", "docs", str(docs), "--workspace-id", TEAM, "--database-url", sqlite_url,
            "--url-prefix", "https://wiki.example.com/"]
    assert main(args) == 0 and main(args) == 0
    assert "2 documents imported" in capsys.readouterr().out

    async def check() -> None:
        store = await Storage.open(sqlite_url)
        try:
            documents = await store.messages.documents(TENANT)
        finally:
            await store.close()
        assert [(d.path, d.title, d.url) for d in documents] == [
            ("ops/deploys.md", "Deploy checklist", "https://wiki.example.com/ops/deploys.md"),
            ("vacation.txt", "vacation", "https://wiki.example.com/vacation.txt")]

    asyncio.run(check())
