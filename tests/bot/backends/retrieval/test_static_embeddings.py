"""The built-in static embeddings, the default with nothing configured: the real shipped model (no server,
no download), paraphrases found by meaning, privacy on the meaning path, vectors kept current, and the
switches that turn it off or replace it."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from bot.backends.answerability import BUILTIN_WEIGHTS, AnswerabilityModel
from bot.backends.embeddings import BUILTIN_MODEL_DIR, OpenAIEmbedder, StaticEmbedder, build_embedder
from bot.backends.retrieval.base import SearchFilters
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.factory import build_retriever
from bot.backends.retrieval.hybrid import HybridRetriever
from bot.models import ChatEvent, Platform, Reader, Trigger
from bot.services import Services, build_services
from bot.settings import BUILTIN_EMBEDDINGS
from bot.visibility import Visibility
from offline.training.static_embeddings import PROVENANCE
from storage import NewMessage, Storage
from tests.bot.backends.retrieval.sample import LINES, T0, readable, seed
from tests.conftest import make_settings


async def test_with_nothing_configured_paraphrases_are_found_by_meaning(services: Services) -> None:
    tenant = await seed(services)
    allowed = await readable(services, tenant)
    for question, expected in (("is prod on fire?", "1.0"), ("how to get into the VPN", "3.0")):
        result = await services.retriever.search(tenant, question, allowed, k=3)
        top = result.hits[0]
        assert top.message is not None and top.message.external_id == expected, question
        assert top.lexical_rank is None and top.semantic_rank == 1  # no shared word: meaning alone found it
        assert result.semantic.startswith(f"used ({BUILTIN_EMBEDDINGS}")


async def test_meaning_never_reaches_a_channel_or_workspace_the_reader_cannot_see(services: Services) -> None:
    tenant = await seed(services)
    other = await services.storage.workspace.ensure_tenant("slack", "T2")
    await services.ingest.message(other, NewMessage("C_PUB", "1.0", "office wifi outage tonight", T0, "U_X"))
    assert isinstance(services.retriever, HybridRetriever)
    await services.retriever.settle(other)
    outsider = await readable(services, tenant)
    hits = (await services.retriever.search(tenant, "wifi outage", outsider, k=10)).hits
    assert hits, "the outsider still gets the closest public messages"
    assert {h.message.external_id for h in hits if h.message} <= {"1.0", "2.0", "3.0", "4.0", "5.0"}
    assert all(h.message is None or h.message.tenant_id == tenant for h in hits)
    member = await readable(services, tenant, user="U_ANN")
    channels = await services.storage.workspace.channels(tenant)
    private = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="U_ANN", channel=None, private=True),
                         tenant, channels).allowed_channel_ids
    assert member != private
    top = (await services.retriever.search(tenant, "wifi outage", private, k=3)).hits[0]
    assert top.message is not None and top.message.external_id == "6.0"


async def test_vectors_are_stored_under_the_builtin_name_and_follow_edits_and_deletes(services: Services) -> None:
    tenant = await seed(services)
    storage = services.storage

    async def vectors() -> dict[int, bytes]:
        return {v.message_id: v.vector async for batch in storage.embeddings.vectors(tenant, BUILTIN_EMBEDDINGS)
                for v in batch}

    stored = await vectors()
    assert len(stored) == len(LINES)
    lunch = await storage.messages.find(tenant, "C_PUB", "5.0")
    assert lunch is not None
    await services.ingest.edit(tenant, "C_PUB", "5.0", "VPN tunnel profiles are rotated every Friday")
    assert isinstance(services.retriever, HybridRetriever)
    await services.retriever.settle(tenant)
    assert (await vectors())[lunch.id] != stored[lunch.id]
    await services.ingest.delete(tenant, "C_OPS", "3.0")
    gone = await storage.messages.find(tenant, "C_OPS", "3.0")
    assert gone is not None and gone.id not in await vectors()
    hits = (await services.retriever.search(tenant, "remote access", await readable(services, tenant), k=5)).hits
    assert "3.0" not in [h.message.external_id for h in hits if h.message]


async def test_the_answer_is_judged_by_the_model_fitted_for_the_builtin_vectors(services: Services) -> None:
    tenant = await seed(services)
    reply = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C_OPS",
                                                   user="U_CAT", command="ask", args="how to get into the VPN",
                                                   trigger=Trigger.COMMAND))
    assert "semantic used" in reply.rationale.inputs.retrieval
    remote = await services.storage.messages.find(tenant, "C_OPS", "3.0")
    assert remote is not None
    [shown] = [e for e in reply.rationale.evidence if e.source_id == f"message:{remote.id}"]
    assert shown.found_by().startswith("meaning #1")  # shares no word with the question
    judged = reply.rationale.answerability
    assert judged is not None and judged.model == AnswerabilityModel.load(BUILTIN_WEIGHTS).version


async def test_the_question_itself_does_not_set_the_scale_of_word_scores(services: Services) -> None:
    """A mention is stored as history before it is answered, so it is often its own best word match. Word scores
    are shares of the best one: left in, it shrank every real match's word score and let messages close only in
    meaning outrank them (seen in the demo: "when do we stop merging for 3.2?" was declined)."""
    tenant = await seed(services)
    question = "release freeze starts Thursday at 18:00 UTC, right"  # holds every word of the answer, and more
    await services.ingest.message(tenant, NewMessage("C_PUB", "9.0", question, T0 + timedelta(hours=1), "U_CAT"))
    assert isinstance(services.retriever, HybridRetriever)
    await services.retriever.settle(tenant)
    allowed = await readable(services, tenant)
    kept = await services.retriever.search(tenant, question, allowed, k=3)
    assert kept.hits[0].message is not None and kept.hits[0].message.external_id == "9.0"
    excluded = await services.retriever.search(tenant, question, allowed, k=3,
                                               filters=SearchFilters(exclude=frozenset({("C_PUB", "9.0")})))
    top = excluded.hits[0]
    assert top.message is not None and top.message.external_id == "4.0"
    assert all(h.message is None or h.message.external_id != "9.0" for h in excluded.hits)
    assert top.semantic_score is not None  # the full word share (25 points) plus its meaning share
    assert top.score == pytest.approx(25 + 75 * top.semantic_score, abs=0.01)
    shrunk = next(h for h in kept.hits if h.message is not None and h.message.external_id == "4.0")
    assert shrunk.score < top.score - 1


def test_the_shipped_model_says_where_it_came_from_and_matches_its_name() -> None:
    provenance = json.loads((BUILTIN_MODEL_DIR / PROVENANCE).read_text())
    assert provenance["name"] == BUILTIN_EMBEDDINGS and provenance["source_license"] == "Apache-2.0"
    embedder = build_embedder(make_settings("sqlite+aiosqlite://"))
    assert isinstance(embedder, StaticEmbedder)
    vectors = embedder._encode(["remote access", "", "deploy failed " * 5_000])  # a long paste is cut, not refused
    assert vectors.shape == (3, provenance["pca_dims"]) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)


async def test_turned_off_it_is_words_alone_and_a_named_model_replaces_it(sqlite_storage: Storage,
                                                                          sqlite_url: str) -> None:
    off = make_settings(sqlite_url, WHYBOT_STATIC_EMBEDDINGS=False)
    assert off.embeddings_source == "off" and build_embedder(off) is None
    assert isinstance(build_retriever(off, sqlite_storage), BM25Retriever)
    served = make_settings(sqlite_url, WHYBOT_EMBEDDINGS_MODEL="text-embedding-3-small",
                           OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert served.embeddings_source == "server"
    embedder = build_embedder(served)
    assert isinstance(embedder, OpenAIEmbedder) and embedder.model == "text-embedding-3-small"
    await embedder.close()
    services = await build_services(off, storage=sqlite_storage)
    assert services.router.ctx.answerability.version == AnswerabilityModel.load().version
