"""PostgreSQL as the search engine: the same hit contract as bm25s, permissions inside the query,
changes visible at once, replicas sharing one database, tenants kept apart. Real server only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bench.data import Corpus, make_corpus
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.factory import SearchUnavailable, build_retriever
from bot.backends.retrieval.hybrid import HybridRetriever
from bot.backends.retrieval.postgres import PostgresRetriever
from bot.ingest import Ingestor
from bot.models import Platform, Reader
from bot.visibility import Visibility
from storage import NewMessage, Storage
from storage.search import SearchStore
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LINES = [
    ("C_PUB", "1.0", "The release freeze starts on Thursday at 18:00 UTC"),
    ("C_PUB", "2.0", "Lunch order for Thursday is pizza"),
    ("C_OPS", "3.0", "Freeze exceptions need approval from the release manager"),
    ("G_SEC", "4.0", "The acquisition of Initech closes on Thursday, keep it quiet"),
]


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Storage]:
    store = await Storage.open(postgres_url, auto_upgrade=True)
    yield store
    await store.close()


async def _workspace(storage: Storage, ingest: Ingestor) -> str:
    ws = storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    await ws.upsert_channel(tenant, "C_PUB", name="general")
    await ws.upsert_channel(tenant, "C_OPS", name="ops")
    await ws.upsert_channel(tenant, "G_SEC", name="secret", is_private=True)
    await ws.set_members(tenant, "G_SEC", ["U_ANN", "U_BOB"])
    for channel, ts, text in LINES:
        await ingest.message(tenant, NewMessage(channel, ts, text, T0, "U_ANN"))
    other = await ws.ensure_tenant("slack", "T2")
    await ingest.message(other, NewMessage("C_PUB", "1.0", "Initech acquisition freeze Thursday", T0, "U_X"))
    return tenant


async def _allowed(storage: Storage, tenant: str, reader: Reader) -> frozenset[int]:
    return Visibility(reader, tenant, await storage.workspace.channels(tenant)).allowed_channel_ids


CAT = Reader(platform=Platform.SLACK, tenant="T1", user="U_CAT", channel="C_PUB")


async def test_hits_carry_scores_matched_terms_and_idf_like_bm25s(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    tenant = await _workspace(pg, Ingestor(pg, retriever))
    allowed = await _allowed(pg, tenant, CAT)
    result = await retriever.search(tenant, "When does the release freeze start?", allowed, k=3)
    memory = await BM25Retriever(pg).search(tenant, "When does the release freeze start?", allowed, k=3)
    assert result.backend == "postgres"
    assert result.query_terms == memory.query_terms == ["releas", "freez", "start"]
    assert [h.source_id for h in result.hits] == [h.source_id for h in memory.hits]
    top = result.hits[0]
    assert top.message is not None and top.message.external_id == "1.0"
    assert top.matched_terms == ["releas", "freez", "start"]
    assert top.score > result.hits[1].score > 0
    # Counted where the reader may look (3 of the tenant's 4: one is in a channel CAT is not in), as in bm25s.
    assert result.searched_messages == memory.searched_messages == 3
    # Rare terms weigh more; a term found nowhere weighs the most, as in bm25s.
    assert result.term_weights["start"] > result.term_weights["freez"] > 0
    nowhere = await retriever.search(tenant, "freeze zanzibar", allowed)
    assert nowhere.term_weights["zanzibar"] > nowhere.term_weights["freez"]


async def test_permission_filter_runs_in_the_query_and_counts_withheld(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    tenant = await _workspace(pg, Ingestor(pg, retriever))
    in_public = Reader(platform=Platform.SLACK, tenant="T1", user="U_ANN", channel="C_PUB")
    result = await retriever.search(tenant, "Initech acquisition", await _allowed(pg, tenant, in_public))
    assert result.hits == [], "a private channel's content reached a public channel"
    assert result.withheld == 1
    member = in_public.model_copy(update={"private": True})
    hits = (await retriever.search(tenant, "Initech acquisition", await _allowed(pg, tenant, member))).hits
    assert [h.message.external_id for h in hits if h.message] == ["4.0"]
    # The ranking itself never returns rows outside the allowed channels (no filtering afterwards).
    ranking = await SearchStore(pg.db).rank(tenant, ["initech", "acquisit"], frozenset(), 5)
    assert ranking.rows == [] and ranking.withheld == 1


async def test_edits_and_deletions_are_visible_at_once(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    ingest = Ingestor(pg, retriever)
    tenant = await _workspace(pg, ingest)
    allowed = await _allowed(pg, tenant, CAT)
    await ingest.message(tenant, NewMessage("C_PUB", "9.0", "Kubernetes upgrade is on Monday",
                                            T0 + timedelta(hours=1), "U_BOB"))
    hits = (await retriever.search(tenant, "kubernetes upgrade", allowed)).hits
    assert [h.message.external_id for h in hits if h.message] == ["9.0"]
    await ingest.edit(tenant, "C_PUB", "9.0", "The cluster migration is on Monday")
    assert (await retriever.search(tenant, "kubernetes", allowed)).hits == []
    assert len((await retriever.search(tenant, "cluster migration", allowed)).hits) == 1
    await ingest.delete(tenant, "C_PUB", "9.0")
    after = await retriever.search(tenant, "cluster migration", allowed)
    assert after.hits == [] and after.searched_messages == 3


async def test_two_replicas_see_each_others_writes_and_deletions_with_no_delay(postgres_url: str) -> None:
    """Two processes' worth of objects (engine, storage, retriever) over one database."""
    store_a = await Storage.open(postgres_url, auto_upgrade=True)
    store_b = await Storage.open(postgres_url, auto_upgrade=True)
    try:
        replica_a, replica_b = PostgresRetriever(store_a), PostgresRetriever(store_b)
        writer_b = Ingestor(store_b, replica_b)
        tenant = await store_b.workspace.ensure_tenant("slack", "T1")
        await store_b.workspace.upsert_channel(tenant, "C_PUB", name="general")
        allowed = frozenset(c.id for c in await store_a.workspace.channels(tenant))
        await writer_b.message(tenant, NewMessage("C_PUB", "1.0", "The vendor portal password rotates monthly",
                                                  T0, "U_BOB"))
        assert [h.message.external_id for h in (await replica_a.search(tenant, "vendor portal", allowed)).hits
                if h.message] == ["1.0"]
        await writer_b.edit(tenant, "C_PUB", "1.0", "The supplier dashboard password rotates weekly")
        assert (await replica_a.search(tenant, "vendor portal", allowed)).hits == []
        assert len((await replica_a.search(tenant, "supplier dashboard", allowed)).hits) == 1
        await writer_b.delete(tenant, "C_PUB", "1.0")
        assert (await replica_a.search(tenant, "supplier dashboard", allowed)).hits == []
        # And the other way round, through the bulk path imports use.
        await Ingestor(store_a, replica_a).messages(tenant, [
            NewMessage("C_PUB", f"2.{i}", f"backup job {i} finished", T0, "U_ANN") for i in range(3)])
        assert len((await replica_b.search(tenant, "backup job", allowed, k=10)).hits) == 3
    finally:
        await store_a.close()
        await store_b.close()


async def test_tenants_never_see_each_other(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    ingest = Ingestor(pg, retriever)
    tenant = await _workspace(pg, ingest)
    other = await pg.workspace.ensure_tenant("slack", "T2")
    other_allowed = frozenset(c.id for c in await pg.workspace.channels(other))
    result = await retriever.search(other, "release freeze Thursday", other_allowed)
    assert [h.message.tenant_id for h in result.hits if h.message] == [other]
    assert result.searched_messages == 1
    # Even given the first tenant's channel ids, the second tenant's search finds only its own rows.
    every_channel = other_allowed | await _allowed(pg, tenant, CAT)
    assert {h.message.tenant_id for h in (await retriever.search(other, "release freeze", every_channel)).hits
            if h.message} == {other}
    await ingest.forget_tenant(other)
    assert (await retriever.search(tenant, "release freeze", await _allowed(pg, tenant, CAT))).searched_messages == 3


async def test_documents_are_split_into_cited_passages(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    ingest = Ingestor(pg, retriever)
    tenant = await _workspace(pg, ingest)
    body = ("Intro words. " * 150) + "To rotate the signing key, run the rotate-keys job in the admin console."
    await ingest.document(tenant, "docs/security.md", "Security handbook", body)
    allowed = await _allowed(pg, tenant, CAT)
    result = await retriever.search(tenant, "rotate signing key", allowed)
    top = result.hits[0]
    assert top.document is not None and top.source_id.endswith("#2")
    assert "rotate-keys" in top.text and len(top.text.split()) <= 130
    assert result.searched_documents == 3
    # Re-importing a shorter version replaces its passages.
    await ingest.document(tenant, "docs/security.md", "Security handbook", "Signing keys rotate yearly.")
    again = await retriever.search(tenant, "rotate signing key", allowed)
    assert [h.source_id.rsplit("#", 1)[1] for h in again.hits if h.document] == ["0"]
    assert again.searched_documents == 1


async def test_reindex_recounts_statistics_to_what_the_triggers_keep(pg: Storage) -> None:
    retriever = PostgresRetriever(pg)
    ingest = Ingestor(pg, retriever)
    tenant = await _workspace(pg, ingest)
    await ingest.edit(tenant, "C_PUB", "2.0", "Lunch order for Friday is sushi")
    await ingest.delete(tenant, "C_OPS", "3.0")
    allowed = await _allowed(pg, tenant, CAT)
    before = await retriever.search(tenant, "lunch order Friday freeze", allowed)
    # CAT reads #general (two messages, one edited) and #ops (its one message deleted).
    assert before.searched_messages == 2
    assert await retriever.reindex(tenant) == (3, 0)
    after = await retriever.search(tenant, "lunch order Friday freeze", allowed)
    assert after.searched_messages == 2
    assert after.term_weights == before.term_weights
    assert [(h.source_id, h.score) for h in after.hits] == [(h.source_id, h.score) for h in before.hits]


async def test_postgres_search_on_sqlite_fails_at_startup(sqlite_storage: Storage, sqlite_url: str) -> None:
    with pytest.raises(SearchUnavailable, match="WHYBOT_SEARCH=postgres needs a PostgreSQL"):
        build_retriever(make_settings(sqlite_url, WHYBOT_SEARCH="postgres"), sqlite_storage)
    assert isinstance(build_retriever(make_settings(sqlite_url, WHYBOT_STATIC_EMBEDDINGS=False), sqlite_storage),
                      BM25Retriever)
    default = build_retriever(make_settings(sqlite_url), sqlite_storage)  # words and the built-in vectors
    assert isinstance(default, HybridRetriever) and isinstance(default.lexical, BM25Retriever)


async def test_database_tokenizes_as_bot_text_does(pg: Storage) -> None:
    """The index holds exactly bot/text.py's terms, so a query tokenized in Python finds them and both
    backends count the same document lengths. Every stop word is in the sample, so a change to
    STOPWORDS that the migration does not follow fails here."""
    from sqlalchemy import text as sql

    from bot import text as textlib

    samples = [line for _, _, line in LINES] + [
        "Rotate-keys don't run in us-east-1 since v1.2; it's café O'Brien's 503, 18:00 and 42 Ünïcode_words",
        " ".join(sorted(textlib.STOPWORDS)) + " Whybot, PLEASE tell me",
        "", "---", "a\\b 'quoted' pre-  -post",
    ]
    async with pg.db.session() as s:
        for sample in samples:
            vector = (await s.execute(sql("SELECT array_agg(u.lexeme ORDER BY u.lexeme), "
                                          "coalesce(sum(array_length(u.positions, 1)), 0), whybot_word_count(:t) "
                                          "FROM unnest(whybot_tsvector(:t)) AS u"), {"t": sample})).one()
            expected = textlib.terms(sample)
            assert sorted(vector[0] or []) == sorted(set(expected)), sample
            assert vector[1] == vector[2] == len(expected), sample


async def _zipf_history(pg: Storage, team: str, corpus: Corpus) -> tuple[str, frozenset[int]]:
    """A tenant holding `corpus` (bench/data.py), and the channels a non-member of its private ones may read."""
    tenant = await pg.workspace.ensure_tenant("slack", team)
    for c in range(corpus.channel_count):
        await pg.workspace.upsert_channel(tenant, f"C{c}", is_private=c in corpus.private_channels)
    await pg.messages.bulk_insert(tenant, [NewMessage(f"C{corpus.channels[i]}", f"{i}.0", corpus.texts[i],
                                                      corpus.created[i]) for i in range(len(corpus.texts))])
    return tenant, frozenset(c.id for c in await pg.workspace.channels(tenant) if not c.is_private)


async def test_bounded_search_finds_exactly_what_scoring_everything_finds(pg: Storage) -> None:
    """The candidate pruning (pairs first, then only term combinations that can beat the k-th score)
    must never change the answer: same rows, same scores, same withheld count, on a Zipf-like history."""
    from bot import text as textlib

    corpus = make_corpus(3000, vocab_size=400, channels=6, private=2, queries=60, seed=3)
    tenant, allowed = await _zipf_history(pg, "TZ", corpus)
    search = SearchStore(pg.db)
    queries = [*corpus.queries, "deploy service fix test release", "the deploy", "customer error build team"]
    pruned = 0
    for query in queries:
        terms = list(dict.fromkeys(textlib.terms(query)))
        bounded = await search.rank(tenant, terms, allowed, 5)
        every = await search.rank(tenant, terms, allowed, 5, exhaustive=True)
        assert [(r.ref, round(r.score, 9)) for r in bounded.rows] == [(r.ref, round(r.score, 9)) for r in every.rows]
        assert bounded.withheld == every.withheld, query
        pruned += bounded.stages > 1
    assert pruned > len(queries) / 2, "the bounded search hardly ever ran"


async def test_both_engines_score_a_zipf_history_alike(pg: Storage) -> None:
    """Same tokens, same BM25, same coordination factor: an installation moving from `memory` to `postgres`
    keeps its rankings (and the answerability model fitted on them)."""

    corpus = make_corpus(1500, vocab_size=300, channels=4, private=1, queries=40, seed=5)
    tenant, allowed = await _zipf_history(pg, "TP", corpus)
    memory, database = BM25Retriever(pg), PostgresRetriever(pg)
    readable = sum(c not in corpus.private_channels for c in corpus.channels)
    for query in corpus.queries:
        a = await memory.search(tenant, query, allowed, k=5)
        b = await database.search(tenant, query, allowed, k=5)
        assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], rel=1e-3), query
        assert a.withheld == b.withheld, query
        assert a.searched_messages == b.searched_messages == readable, query
        if a.hits:  # hits tied at the k-th score may differ (float32 against float8); the rest may not
            cut = a.hits[-1].score * (1 + 1e-3)
            assert {h.source_id for h in a.hits if h.score > cut} == {h.source_id for h in b.hits if h.score > cut}
