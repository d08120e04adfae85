"""BM25 retrieval: scores and matched terms, incremental updates, and who may see what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.backends.retrieval.bm25 import BM25Retriever
from bot.ingest import Ingestor
from bot.models import Platform, Reader
from bot.services import Services, build_services
from bot.visibility import Visibility
from storage import NewMessage, Storage
from tests.conftest import make_settings

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def services(sqlite_storage: Storage, sqlite_url: str) -> AsyncIterator[Services]:
    """Words alone: this file is about BM25 (with the built-in vectors every question also has nearest
    messages by meaning; tests/bot/backends/retrieval/test_static_embeddings.py covers that path, privacy
    included)."""
    yield await build_services(make_settings(sqlite_url, WHYBOT_STATIC_EMBEDDINGS=False), storage=sqlite_storage)


async def _workspace(services: Services) -> str:
    ws = services.storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    await ws.upsert_channel(tenant, "C_PUB", name="general")
    await ws.upsert_channel(tenant, "C_OPS", name="ops")
    await ws.upsert_channel(tenant, "G_SEC", name="secret", is_private=True)
    await ws.set_members(tenant, "G_SEC", ["U_ANN", "U_BOB"])
    await ws.set_members(tenant, "C_PUB", ["U_ANN", "U_BOB", "U_CAT"])
    other = await ws.ensure_tenant("slack", "T2")
    lines = [
        ("C_PUB", "1.0", "The release freeze starts on Thursday at 18:00 UTC"),
        ("C_PUB", "2.0", "Lunch order for Thursday is pizza"),
        ("C_OPS", "3.0", "Freeze exceptions need approval from the release manager"),
        ("G_SEC", "4.0", "The acquisition of Initech closes on Thursday, keep it quiet"),
    ]
    for channel, ts, text in lines:
        await services.ingest.message(tenant, NewMessage(channel, ts, text, T0, "U_ANN"))
    await services.ingest.message(other, NewMessage("C_PUB", "1.0", "Initech acquisition freeze Thursday", T0, "U_X"))
    return tenant


def _allowed(services_tenant: str, reader: Reader, channels: list) -> frozenset[int]:  # type: ignore[type-arg]
    return Visibility(reader, services_tenant, channels).allowed_channel_ids


async def test_hits_carry_scores_and_matched_terms(services: Services) -> None:
    tenant = await _workspace(services)
    channels = await services.storage.workspace.channels(tenant)
    reader = Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB")
    result = await services.retriever.search(tenant, "When does the release freeze start?",
                                             _allowed(tenant, reader, channels), k=3)
    assert result.query_terms == ["releas", "freez", "start"]
    top = result.hits[0]
    assert top.message is not None and top.message.external_id == "1.0"
    assert top.matched_terms == ["releas", "freez", "start"]
    assert top.score > result.hits[1].score > 0
    assert result.term_weights["start"] > 0


async def test_a_short_message_with_one_common_word_does_not_outrank_one_holding_rarer_ones(
        services: Services) -> None:
    """Seen on synthetic workspaces: "what about cost?" (five times, two words long) was the top match for
    "what's settled about splitting quotes-consumer", above the proposal it asked about. Plain BM25 rewards
    the short message; the coordination factor weighs how much of the question a message holds."""
    ws = services.storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    await ws.upsert_channel(tenant, "C_ENG", name="engineering")
    lines = ["what about cost?", "what about the migration window?", "what about data backfill?",
             "I'd like us to split quotes-consumer into a read and a write service. On-call load keeps growing.",
             "quotes-consumer deploys are green", "quotes-consumer latency is back to normal",
             "Decision: we'll not split quotes-consumer for now and revisit in Q3."]
    # As in the workspace it was seen in: the service is named far more often than people say "about".
    lines += [f"quotes-consumer build #{n} passed on main" for n in range(6)]
    lines += [f"standup notes for day {n}: nothing blocking" for n in range(100)]
    for i, text in enumerate(lines):
        await services.ingest.message(tenant, NewMessage("C_ENG", f"{i}.0", text, T0 + timedelta(minutes=i), "U_ANN"))
    reader = Reader(platform=Platform.SLACK, tenant="T1", user="U_ANN", channel="C_ENG")
    result = await services.retriever.search(tenant, "what's settled about splitting quotes-consumer",
                                             _allowed(tenant, reader, await ws.channels(tenant)), k=3)
    assert [sorted(h.matched_terms) for h in result.hits[:2]] == [["quotes-consum", "split"]] * 2


async def test_private_and_foreign_content_never_returned(services: Services) -> None:
    tenant = await _workspace(services)
    channels = await services.storage.workspace.channels(tenant)
    in_public = Reader(platform=Platform.SLACK, tenant="T1", user="U_ANN", channel="C_PUB")
    result = await services.retriever.search(tenant, "Initech acquisition", _allowed(tenant, in_public, channels))
    assert result.hits == [], "a private channel's content reached a public channel"
    assert result.withheld == 1
    # Privately, a member may see it; a non-member may not.
    member = in_public.model_copy(update={"private": True})
    hits = (await services.retriever.search(tenant, "Initech acquisition", _allowed(tenant, member, channels))).hits
    assert [h.message.external_id for h in hits if h.message] == ["4.0"]
    outsider = Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel=None, private=True)
    assert (await services.retriever.search(tenant, "Initech", _allowed(tenant, outsider, channels))).hits == []


async def test_readers_asking_the_same_words_in_turn_each_get_their_own_view(services: Services) -> None:
    """The retriever reuses the last query's scores and each channel set's mask and message count: a member
    asking right after a non-member (and the reverse) must still see exactly what each may see, and the
    counts must follow new and deleted messages."""
    tenant = await _workspace(services)
    channels = await services.storage.workspace.channels(tenant)
    outsider = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB"),
                        channels)
    member = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_ANN", channel=None,
                                     private=True), channels)
    question = "what happens on Thursday?"
    for allowed, seen, count in ((outsider, {"1.0", "2.0"}, 3), (member, {"1.0", "2.0", "4.0"}, 4),
                                 (outsider, {"1.0", "2.0"}, 3)):
        result = await services.retriever.search(tenant, question, allowed, k=5)
        assert {h.message.external_id for h in result.hits if h.message} == seen
        assert result.searched_messages == count
    first = (await services.retriever.search(tenant, question, member, k=5)).hits
    assert [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    await services.ingest.message(tenant, NewMessage("G_SEC", "5.0", "Board call on Thursday", T0, "U_BOB"))
    assert (await services.retriever.search(tenant, question, member, k=5)).searched_messages == 5
    assert (await services.retriever.search(tenant, question, outsider, k=5)).searched_messages == 3
    await services.ingest.delete(tenant, "C_PUB", "2.0")
    result = await services.retriever.search(tenant, question, outsider, k=5)
    assert result.searched_messages == 2
    assert {h.message.external_id for h in result.hits if h.message} == {"1.0"}


async def test_new_edited_and_deleted_messages_without_rebuild(services: Services) -> None:
    tenant = await _workspace(services)
    channels = await services.storage.workspace.channels(tenant)
    allowed = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB"), channels)
    assert isinstance(getattr(services.retriever, "lexical", services.retriever), BM25Retriever)
    await services.retriever.warm(tenant)
    assert (await services.retriever.search(tenant, "kubernetes upgrade", allowed)).hits == []
    await services.ingest.message(tenant, NewMessage("C_PUB", "9.0", "Kubernetes upgrade is on Monday",
                                                     T0 + timedelta(hours=1), "U_BOB"))
    hits = (await services.retriever.search(tenant, "kubernetes upgrade", allowed)).hits
    assert [h.message.external_id for h in hits if h.message] == ["9.0"]
    await services.ingest.edit(tenant, "C_PUB", "9.0", "The cluster migration is on Monday")
    assert (await services.retriever.search(tenant, "kubernetes", allowed)).hits == []
    assert len((await services.retriever.search(tenant, "cluster migration", allowed)).hits) == 1
    await services.ingest.delete(tenant, "C_PUB", "9.0")
    assert (await services.retriever.search(tenant, "cluster migration", allowed)).hits == []


async def test_many_small_additions_freeze_into_segments(services: Services) -> None:
    tenant = await _workspace(services)
    retriever = BM25Retriever(services.storage, delta_limit=10)
    channels = await services.storage.workspace.channels(tenant)
    allowed = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB"), channels)
    await retriever.warm(tenant)
    for i in range(35):
        record = await services.storage.messages.upsert(tenant, NewMessage(
            "C_PUB", f"5{i}.0", f"note {i} about the payment gateway", T0, "U_BOB"))
        await retriever.add_message(record)
    index = retriever._tenants[tenant]
    assert len(index.segments) >= 3, "the delta never froze into segments"
    hits = (await retriever.search(tenant, "payment gateway", allowed, k=50)).hits
    assert len(hits) == 35


async def test_documents_are_split_into_cited_passages(services: Services) -> None:
    tenant = await _workspace(services)
    body = ("Intro words. " * 150) + "To rotate the signing key, run the rotate-keys job in the admin console."
    await services.ingest.document(tenant, "docs/security.md", "Security handbook", body)
    channels = await services.storage.workspace.channels(tenant)
    allowed = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB"), channels)
    hits = (await services.retriever.search(tenant, "rotate signing key", allowed)).hits
    assert hits and hits[0].document is not None and hits[0].source_id.endswith("#2")
    assert "rotate-keys" in hits[0].text and len(hits[0].text.split()) <= 130


async def test_compaction_rebuilds_in_the_background_and_keeps_changes(services: Services) -> None:
    tenant = await _workspace(services)
    retriever = BM25Retriever(services.storage, delta_limit=5, max_segments=2)
    channels = await services.storage.workspace.channels(tenant)
    allowed = _allowed(tenant, Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB"), channels)
    await retriever.warm(tenant)
    for i in range(16):
        record = await services.storage.messages.upsert(tenant, NewMessage(
            "C_PUB", f"7{i}.0", f"ledger entry {i} for the quarterly audit", T0, "U_BOB"))
        await retriever.add_message(record)
    compaction = retriever._compactions[tenant]
    # A change made while the compaction runs must survive it.
    late = await services.storage.messages.upsert(tenant, NewMessage("C_PUB", "99.0", "quarterly audit moved",
                                                                      T0, "U_BOB"))
    await retriever.add_message(late)
    await compaction
    index = retriever._tenants[tenant]
    assert len(index.segments) <= 2
    hits = (await retriever.search(tenant, "quarterly audit", allowed, k=50)).hits
    assert len(hits) == 17


async def test_replicas_sharing_a_database_see_each_others_messages(storage: Storage) -> None:
    """Two processes' indexes over one database (SQLite and PostgreSQL): what one stores, edits or
    deletes, the other finds within its sync interval, without a rebuild."""
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await storage.workspace.upsert_channel(tenant, "C_PUB", name="general")
    replica_a = BM25Retriever(storage, sync_interval=0.0)
    replica_b = BM25Retriever(storage, sync_interval=0.0)
    writer_b = Ingestor(storage, replica_b)
    channel_ids = frozenset(c.id for c in await storage.workspace.channels(tenant))
    await replica_a.warm(tenant)
    await replica_b.warm(tenant)

    await writer_b.message(tenant, NewMessage("C_PUB", "1.0", "The vendor portal password rotates monthly", T0,
                                              "U_BOB"))
    assert [h.message.text for h in (await replica_a.search(tenant, "vendor portal", channel_ids)).hits
            if h.message] == ["The vendor portal password rotates monthly"]
    await writer_b.edit(tenant, "C_PUB", "1.0", "The supplier dashboard password rotates weekly")
    assert (await replica_a.search(tenant, "vendor portal", channel_ids)).hits == []
    assert len((await replica_a.search(tenant, "supplier dashboard", channel_ids)).hits) == 1
    await writer_b.delete(tenant, "C_PUB", "1.0")
    assert (await replica_a.search(tenant, "supplier dashboard", channel_ids)).hits == []
