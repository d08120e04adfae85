"""The approximate index for large tenants: it must find what the exact scan finds, never propose a row the
reader cannot see, follow new, edited and deleted messages, and leave the scores the Why? shows unchanged."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np

from bot.backends.embeddings import StaticEmbedder, load_static_model
from bot.backends.retrieval.ann import ApproximateIndex
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.dense import DenseIndex, _Matrix
from bot.backends.retrieval.hybrid import HybridRetriever
from storage import NewMessage, Storage
from tests.bot.backends.retrieval.sample import LINES, T0

FILLER_SUBJECTS = ["the billing service", "our onboarding docs", "the mobile app", "the data warehouse",
                   "the design review", "the hiring loop", "the quarterly plan", "the support queue",
                   "the search page", "the marketing site", "the partner API", "the team offsite"]
FILLER_VERBS = ["needs a new owner for", "is blocked on", "got a fresh dashboard for", "will be demoed with",
                "has a draft proposal about", "was discussed alongside", "should be archived after",
                "is waiting for feedback on", "shipped a small fix to", "moved to next sprint with"]
FILLER_OBJECTS = ["the invoices", "the translations", "the analytics events", "the style guide",
                  "the interview rubric", "the roadmap slides", "the ticket backlog", "the autocomplete",
                  "the pricing table", "the sandbox keys", "the venue booking", "the CSV export",
                  "the color palette", "the retention report", "the screenshots", "the welcome email",
                  "the timezone bug", "the SSO settings", "the budget sheet", "the release notes",
                  "the load balancer", "the old logos", "the survey results", "the test fixtures"]


def _clustered(rng: np.random.Generator, n: int, dim: int, clusters: int) -> np.ndarray:
    """Unit vectors around a few centres, as a workspace's topics are (uniform noise has no lists to skip)."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    v = centres[rng.integers(clusters, size=n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_candidates_hold_the_exact_nearest_and_only_visible_rows() -> None:
    rng = np.random.default_rng(5)
    vectors = _clustered(rng, 30_000, 32, 40)
    matrix = _Matrix()
    matrix.extend(np.arange(1, 30_001, dtype=np.int64), np.arange(30_000, dtype=np.int64) % 3, vectors)
    index = ApproximateIndex.build(matrix.vectors, matrix.scales, matrix.size)
    assert index.rows == 30_000 and index.lists == 173 and index.probes == 10
    visible = matrix.visible(frozenset({0, 1}))  # a third of the rows are in a channel this reader cannot see
    found = []
    for query in vectors[rng.integers(30_000, size=40)] + 0.2 * _clustered(rng, 40, 32, 40):
        query = query / np.linalg.norm(query)
        near = index.candidates(query, visible, 40)
        assert near.size == 40 and visible[near].all(), "never a row the reader cannot see"
        rows = np.flatnonzero(visible)
        exact = rows[np.argsort(-(vectors[rows] @ query))[:10]]
        found.append(len(set(exact.tolist()) & set(near.tolist())) / 10)
    assert np.mean(found) >= 0.9, np.mean(found)
    # a row added after the build is searchable once the index catches up with the matrix
    matrix.put(40_000, 0, vectors[7] * -1)
    index.extend(matrix.vectors, matrix.scales, matrix.size)
    assert index.rows == matrix.size
    assert matrix.size - 1 in index.candidates(-vectors[7], matrix.visible(frozenset({0})), 5).tolist()
    assert not index.due(matrix.size) and index.due(60_000)


async def test_a_large_tenant_is_searched_through_the_index_with_the_exact_scores(sqlite_storage: Storage) -> None:
    """Thousands of messages on other subjects around the sample's six: with the index (from 1,000 vectors), the
    same paraphrases find the same messages with the same cosines as the exact scan, the private channel stays
    out, and an edit or delete is followed."""
    storage = sqlite_storage
    ws = storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    for channel, name, private in (("C_PUB", "general", False), ("C_OPS", "ops", False), ("G_SEC", "board", True)):
        await ws.upsert_channel(tenant, channel, name=name, is_private=private)
    await ws.set_members(tenant, "G_SEC", ["U_ANN"])
    filler = [f"{s} {v} {o}" for s, v, o in itertools.product(FILLER_SUBJECTS, FILLER_VERBS, FILLER_OBJECTS)]
    await storage.messages.bulk_insert(tenant, [
        NewMessage(("C_PUB", "C_OPS")[i % 2], f"9{i:05d}.0", text, T0 - timedelta(days=1, minutes=i), "U_DAN")
        for i, text in enumerate(filler)])
    await storage.messages.bulk_insert(tenant, [NewMessage(c, ts, text, T0 + timedelta(minutes=i), user)
                                                for i, (c, ts, user, text) in enumerate(LINES)])
    model = load_static_model()
    approximate = HybridRetriever(BM25Retriever(storage), storage,
                                  DenseIndex(storage, StaticEmbedder(model), approximate_from=1_000))
    exact = HybridRetriever(BM25Retriever(storage), storage, DenseIndex(storage, StaticEmbedder(model)))
    try:
        for retriever in (approximate, exact):
            await retriever.settle(tenant)
        assert approximate.dense is not None and exact.dense is not None
        assert tenant in approximate.dense._approximate and tenant not in exact.dense._approximate
        channels = {c.external_id: c.id for c in await ws.channels(tenant)}
        outsider = frozenset({channels["C_PUB"], channels["C_OPS"]})
        for question, expected in (("checkout errors after the deploy", "1.0"), ("expense reimbursement", "2.0"),
                                   ("when does the release freeze start", "4.0"), ("lunch on thursday", "5.0")):
            found = await approximate.search(tenant, question, outsider, k=5)
            assert ("an approximate index proposed the nearest 80 (3 of its 53 lists probed), scored exactly"
                    in found.semantic)
            a = found.hits
            e = (await exact.search(tenant, question, outsider, k=5)).hits
            assert a[0].message is not None and a[0].message.external_id == expected, question
            scored = {h.source_id: (h.score, h.semantic_score) for h in e}
            shared = [h for h in a if h.source_id in scored]
            assert shared[0] is a[0], question  # below it, near-ties among the look-alike filler may differ
            assert all((h.score, h.semantic_score) == scored[h.source_id] for h in shared), "scored exactly"
        hits = (await approximate.search(tenant, "wifi outage at the board meeting", outsider, k=10)).hits
        assert all(h.message is not None and h.message.channel_id in outsider for h in hits)
        # an edit: the old wording's vector is retired, the new one is found
        edited = await storage.messages.upsert(tenant, NewMessage("C_OPS", "3.0", "Lunch on Friday is tacos",
                                                                  T0, "U_CAT"))
        await approximate.add_message(edited)
        await approximate.settle(tenant)
        top = (await approximate.search(tenant, "how to get into the VPN", outsider, k=3)).hits
        assert all(h.message is not None and h.message.external_id != "3.0" for h in top)
        await approximate.remove_message(tenant, edited.id)
        nearest = await approximate.dense.search(
            tenant, await approximate.dense.embedder.embed_query("Friday tacos"), outsider, 20)
        assert nearest.approximate.startswith("an approximate index proposed the nearest 80")
        assert nearest.found and edited.id not in dict(nearest.found)
    finally:
        await approximate.close()
        await exact.close()
