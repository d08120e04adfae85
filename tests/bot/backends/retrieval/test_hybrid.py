"""Hybrid retrieval through the real `openai` client against the loopback embeddings server:
paraphrases found by meaning, vectors kept current on edit and delete, and answers that never wait
on a slow embedding server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.backends.answerability import DEFAULT_WEIGHTS, HYBRID_WEIGHTS, AnswerabilityModel
from bot.backends.embeddings import OpenAIEmbedder
from bot.backends.retrieval.hybrid import HybridRetriever
from bot.models import ChatEvent, EvidenceItem, Platform, Trigger
from bot.services import Services, build_services
from storage import NewMessage, Storage
from tests.bot.backends.retrieval.sample import T0, readable, seed
from tests.conftest import make_settings
from tests.peers.fake_openai import FakeOpenAI


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


async def _services(fake: FakeOpenAI, storage: Storage, url: str, **env: object) -> Services:
    settings = make_settings(url, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-test",
                             WHYBOT_EMBEDDINGS_MODEL="fake-embed", **env)
    return await build_services(settings, storage=storage)


async def test_paraphrases_found_by_meaning_and_ranked_in_both_lists(fake: FakeOpenAI, sqlite_storage: Storage,
                                                                      sqlite_url: str) -> None:
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    allowed = await readable(services, tenant)
    for question, expected in (("is prod on fire?", "1.0"), ("how do I file an expense claim", "2.0"),
                               ("how to get into the VPN", "3.0")):
        result = await services.retriever.search(tenant, question, allowed, k=3)
        top = result.hits[0]
        assert top.message is not None and top.message.external_id == expected, question
        assert top.semantic_rank == 1 and top.lexical_rank is None  # found by meaning alone
        others = [h.semantic_score or 0.0 for h in result.hits[1:]]
        assert top.semantic_score is not None and top.semantic_score > max(others, default=0.0)
        assert result.semantic.startswith("used (fake-embed")
    # the backfill embedded the bulk import in batches, not one request per message
    assert any(len(r["input"]) > 1 for r in fake.embedding_requests)
    # a private channel's message is never a semantic hit for an outsider, however close its meaning
    hits = (await services.retriever.search(tenant, "wifi outage", allowed, k=10)).hits
    assert all(h.message is None or h.message.external_id != "6.0" for h in hits)


async def test_a_words_only_search_skips_meaning(fake: FakeOpenAI, sqlite_storage: Storage, sqlite_url: str) -> None:
    """Checks that only count matched words (the asker's private-channel note) ask for words alone: no question
    vector, no meaning-only hits, no related-word search."""
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    allowed = await readable(services, tenant)
    await services.retriever.settle(tenant)
    asked = len(fake.embedding_requests)
    result = await services.retriever.search(tenant, "is prod on fire?", allowed, k=3, words_only=True)
    assert len(fake.embedding_requests) == asked and result.semantic == "" and not result.expansion
    assert all(h.semantic_rank is None and h.lexical_rank is None for h in result.hits)  # BM25's own hits
    assert all(h.message is None or h.message.external_id != "1.0" for h in result.hits)  # only meaning finds it


async def test_why_shows_word_and_meaning_ranks(fake: FakeOpenAI, sqlite_storage: Storage, sqlite_url: str) -> None:
    services = await _services(fake, sqlite_storage, sqlite_url)
    await seed(services)
    reply = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C_OPS",
                                                   user="U_CAT", command="ask", args="is prod on fire?",
                                                   trigger=Trigger.COMMAND))
    top = reply.rationale.evidence[0]
    assert top.title.startswith("#ops")
    assert top.semantic_rank == 1 and "meaning #1" in top.found_by()
    assert "semantic used" in reply.rationale.inputs.retrieval
    # the answer-or-decline model fitted on hybrid search's features, not the words-only one
    judged = reply.rationale.answerability
    assert judged is not None and judged.model == AnswerabilityModel.load(HYBRID_WEIGHTS).version
    assert judged.model != AnswerabilityModel.load(DEFAULT_WEIGHTS).version


async def test_vectors_follow_edits_and_deletes(fake: FakeOpenAI, sqlite_storage: Storage, sqlite_url: str) -> None:
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    assert isinstance(services.retriever, HybridRetriever) and services.retriever.dense is not None
    allowed = await readable(services, tenant)
    await services.ingest.edit(tenant, "C_PUB", "5.0", "VPN tunnel profiles are rotated every Friday")
    await services.retriever.settle(tenant)
    rows = [v async for batch in sqlite_storage.embeddings.vectors(tenant, "fake-embed") for v in batch]
    edited = await sqlite_storage.messages.find(tenant, "C_PUB", "5.0")
    assert edited is not None and edited.id in {r.message_id for r in rows}  # re-embedded, hash current
    hits = (await services.retriever.search(tenant, "remote access", allowed, k=3)).hits
    assert "5.0" in [h.message.external_id for h in hits if h.message and h.semantic_rank]
    await services.ingest.delete(tenant, "C_OPS", "3.0")
    rows = [v async for batch in sqlite_storage.embeddings.vectors(tenant, "fake-embed") for v in batch]
    gone = await sqlite_storage.messages.find(tenant, "C_OPS", "3.0")
    assert gone is not None and gone.id not in {r.message_id for r in rows}
    hits = (await services.retriever.search(tenant, "remote access", allowed, k=5)).hits
    assert "3.0" not in [h.message.external_id for h in hits if h.message]


async def test_slow_embedding_server_never_blocks_the_answer(fake: FakeOpenAI, sqlite_storage: Storage,
                                                              sqlite_url: str) -> None:
    services = await _services(fake, sqlite_storage, sqlite_url, WHYBOT_EMBEDDINGS_TIMEOUT=0.2)
    await seed(services)
    fake.embedding_delay(3.0)
    started = datetime.now(UTC)
    reply = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C_PUB",
                                                   user="U_CAT", command="ask", trigger=Trigger.COMMAND,
                                                   args="when does the release freeze start"))
    assert (datetime.now(UTC) - started).total_seconds() < 2.0
    top = reply.rationale.evidence[0]
    assert "freeze" in top.matched_terms and top.lexical_rank == 1 and top.semantic_rank is None
    assert any("answered from words alone" in c for c in reply.rationale.caveats)
    assert "skipped" in reply.rationale.inputs.retrieval


async def test_batches_are_retried_on_server_errors(fake: FakeOpenAI, sqlite_storage: Storage,
                                                    sqlite_url: str) -> None:
    services = await _services(fake, sqlite_storage, sqlite_url)
    assert isinstance(services.retriever, HybridRetriever) and services.retriever.dense is not None
    fake.embedding_error(503).embedding_error(500)
    vectors = await services.retriever.dense.embedder.embed_documents(["one", "two", "three"])
    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(fake.embedding_requests) == 3  # two failures, then the batch


async def test_each_match_is_scored_on_words_and_meaning_together(fake: FakeOpenAI, sqlite_storage: Storage,
                                                                  sqlite_url: str) -> None:
    """The fused score is (1 - w) x BM25 as a share of the best word match + w x cosine, out of 100: the best
    word match's lead survives fusion (reciprocal rank fusion put the top two within 2% of each other), a
    word match beyond the nearest few still gets its cosine, and the weight moves the order between the two."""
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    allowed = await readable(services, tenant)
    assert isinstance(services.retriever, HybridRetriever)
    assert services.retriever.semantic_weight == 0.75
    result = await services.retriever.search(tenant, "when does the release freeze start", allowed, k=3)
    top, second = result.hits[0], result.hits[1]
    assert top.message is not None and top.message.external_id == "4.0" and top.lexical_rank == 1
    assert top.semantic_score is not None
    assert top.score == pytest.approx(100 * (0.25 * 1.0 + 0.75 * top.semantic_score), abs=0.01)
    assert second.score < 0.8 * top.score
    assert "25% on words" in result.semantic and "75% on meaning" in result.semantic

    narrow = HybridRetriever(services.retriever.lexical, sqlite_storage, services.retriever.dense,
                             expansion=False, candidates=1)
    hits = (await narrow.search(tenant, "release freeze Thursday", allowed, k=2)).hits
    by_words = [h for h in hits if h.lexical_rank == 1]
    assert by_words and by_words[0].semantic_score is not None  # scored by meaning though not among the nearest
    # the Why? shows that cosine for a word match the meaning list did not rank
    only_words = EvidenceItem(rank=5, source_id="message:9", score=46.6, lexical_rank=8, semantic_score=0.213)
    assert only_words.found_by() == "words #8 · meaning 0.21"

    words_only = HybridRetriever(services.retriever.lexical, sqlite_storage, services.retriever.dense,
                                 expansion=False, semantic_weight=0.0)
    meaning_only = HybridRetriever(services.retriever.lexical, sqlite_storage, services.retriever.dense,
                                   expansion=False, semantic_weight=1.0)
    question = "lunch on Thursday, is it pizza"
    lexical = (await services.retriever.lexical.search(tenant, question, allowed, k=6)).hits
    assert [h.source_id for h in (await words_only.search(tenant, question, allowed, k=6)).hits
            if h.lexical_rank] == [h.source_id for h in lexical]
    by_meaning = (await meaning_only.search(tenant, question, allowed, k=6)).hits
    assert [h.score for h in by_meaning] == sorted((h.score for h in by_meaning), reverse=True)
    assert all(h.score == pytest.approx(100 * max(0.0, h.semantic_score or 0.0), abs=0.01) for h in by_meaning)


async def test_shutdown_stops_embedding_and_the_next_start_catches_up(fake: FakeOpenAI, sqlite_storage: Storage,
                                                                      sqlite_url: str) -> None:
    """Closing the services cancels a batch stuck on a slow server and closes the client's connections (left
    open, they outlive the event loop); the message it held is embedded by the next start's backfill."""
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    assert isinstance(services.retriever, HybridRetriever) and services.retriever.dense is not None
    embedder = services.retriever.dense.embedder
    fake.embedding_delay(30.0)
    await services.ingest.messages(tenant, [NewMessage("C_PUB", "7.0", "Parking permits renew in January",
                                                       T0 + timedelta(hours=1), "U_BOB")])
    started = datetime.now(UTC)
    await services.retriever.close()
    assert (datetime.now(UTC) - started).total_seconds() < 5.0
    assert isinstance(embedder, OpenAIEmbedder) and embedder.client.is_closed()
    message = await sqlite_storage.messages.find(tenant, "C_PUB", "7.0")
    assert message is not None
    assert message.id in {m for m, _, _ in await sqlite_storage.embeddings.missing(tenant, "fake-embed", after_id=0,
                                                                                   limit=100)}

    again = await _services(fake, sqlite_storage, sqlite_url)
    assert isinstance(again.retriever, HybridRetriever)
    await again.retriever.settle(tenant)
    assert not await sqlite_storage.embeddings.missing(tenant, "fake-embed", after_id=0, limit=100)
    await again.retriever.close()


async def test_a_document_without_a_vector_is_judged_on_its_words(fake: FakeOpenAI, sqlite_storage: Storage,
                                                                  sqlite_url: str) -> None:
    """Documents have no vectors: counting their meaning as 0 would put the handbook page that answers the
    question below every message merely close to it in meaning."""
    services = await _services(fake, sqlite_storage, sqlite_url)
    tenant = await seed(services)
    await services.ingest.document(tenant, "handbook/expenses.md", "Expenses",
                                   "Expense claims: submit receipts in Expensify within 30 days; finance pays "
                                   "approved claims with the next payroll.")
    allowed = await readable(services, tenant)
    result = await services.retriever.search(tenant, "when does finance pay approved expense claims", allowed, k=3)
    top = result.hits[0]
    assert top.document is not None and top.lexical_rank == 1 and top.semantic_score is None
    assert top.score == pytest.approx(100.0)  # the best word match, with nothing known about its meaning
    assert any(h.message is not None and h.semantic_score for h in result.hits[1:])
