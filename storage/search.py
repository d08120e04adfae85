"""BM25 ranking inside PostgreSQL, for `WHYBOT_SEARCH=postgres` (the engine every replica shares).

Candidates come from GIN indexes over `search_tsv` (messages, and document passages); each candidate is
scored with BM25 (the Lucene variant bm25s uses: idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))) from
its tsvector and the tenant's statistics, which triggers keep exact (migration 0006). Who may read what
is part of the same query, so rows a reader may not see never leave the database, only their count.

Each BM25 score is multiplied by the square root of the share of the question's idf weight the document
holds (COORDINATION). Chat messages are a few words long, and plain BM25's length normalisation lets
"what about cost?" (one common question word) outrank "split quotes-consumer into a read and a write
service" (two of the rarer ones) for "what's settled about splitting quotes-consumer". The bounds below take
the factor into account (`idf_needed`): it makes scores lower, and a floor compared as if it were not there
would let through far more candidates than can win.

A query's common words would make every candidate set huge, so the search bounds before it scans. A
document holding only the query terms in a set S scores below the sum of their idfs (BM25's tf part is
below 1). First the documents holding two or more of the (rarest) terms are scored: their k-th best score
θ is a floor the answer must beat. Then only documents holding a combination of terms whose idfs add up
to more than θ can enter the top k, and one more query scores exactly those (a tsquery of the minimal
such combinations). Without a floor (fewer than k such documents), terms are added rarest first until
the terms left out could not add up to the k-th score (MaxScore).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

K1, B = 1.5, 0.75  # bm25s defaults
COORDINATION = 0.5  # score x (share of the query's idf weight matched) ** this; 0 is plain BM25
PAIR_TERMS = 6  # the floor comes from documents holding two of the rarest six terms
MAX_CLAUSES = 64  # beyond this many term combinations, fall back to adding terms rarest first

_RANK = text(f"""
WITH cand AS (
  SELECT 0 AS kind, m.id AS ref, 0 AS part, m.channel_id, m.search_tsv AS tsv, m.search_len AS dl
  FROM messages m
  WHERE m.tenant_id = :tenant AND m.search_tsv @@ CAST(:query AS tsquery)
    AND NOT m.deleted AND m.decision_id IS NULL
  UNION ALL
  SELECT 1, p.document_id, p.part, p.channel_id, p.search_tsv, p.search_len
  FROM search_passages p JOIN documents d ON d.id = p.document_id
  WHERE p.tenant_id = :tenant AND p.search_tsv @@ CAST(:query AS tsquery) AND NOT d.deleted
),
scored AS (
  -- Only the query's lexemes are unpacked: setweight marks them, ts_filter keeps them (both in C).
  SELECT c.kind, c.ref, c.part, f.matched,
         f.bm25 * power(f.covered / CAST(:query_weight AS float8), {COORDINATION}) AS score,
         (c.channel_id IS NULL OR c.channel_id = ANY(CAST(:allowed AS integer[]))) AS visible
  FROM cand c CROSS JOIN LATERAL (
    SELECT array_agg(u.lexeme) AS matched, sum(u.idf) AS covered,
           sum(u.idf * u.tf / (u.tf + {K1} * (1 - {B} + {B} * c.dl / CAST(:avgdl AS float8)))) AS bm25
    FROM (SELECT t.lexeme, array_length(t.positions, 1) AS tf,
                 (CAST(:idfs AS float8[]))[array_position(CAST(:terms AS text[]), t.lexeme)] AS idf
          FROM unnest(ts_filter(setweight(c.tsv, 'A', CAST(:terms AS text[])), '{{a}}')) AS t) AS u
  ) AS f
),
top AS (
  SELECT kind, ref, part, score, matched FROM scored WHERE visible
  ORDER BY score DESC, kind, ref, part LIMIT :k
),
floor AS (SELECT CASE WHEN count(*) >= :k THEN min(score) ELSE 0 END AS score FROM top)
SELECT kind, ref, part, score, matched FROM top
UNION ALL
SELECT -1, (SELECT count(*) FROM (SELECT 1 FROM scored, floor WHERE NOT scored.visible AND scored.score > floor.score
                                  LIMIT :k) AS hidden), 0, 0, NULL
""")

# PostgreSQL's own ranking, for comparison only (bench/search_pg.py): what "plain ts_rank" finds.
_TS_RANK = text("""
SELECT 0 AS kind, m.id AS ref, 0 AS part, ts_rank(m.search_tsv, CAST(:query AS tsquery)) AS score,
       ARRAY(SELECT u.lexeme FROM unnest(m.search_tsv) AS u WHERE u.lexeme = ANY(CAST(:terms AS text[]))) AS matched
FROM messages m
WHERE m.tenant_id = :tenant AND m.search_tsv @@ CAST(:query AS tsquery) AND NOT m.deleted AND m.decision_id IS NULL
  AND m.channel_id = ANY(CAST(:allowed AS integer[]))
ORDER BY score DESC, m.id LIMIT :k
""")

_STATS = text("""
SELECT coalesce((SELECT messages FROM search_tenants WHERE tenant_id = :tenant), 0),
       coalesce((SELECT passages FROM search_tenants WHERE tenant_id = :tenant), 0),
       coalesce((SELECT total_len FROM search_tenants WHERE tenant_id = :tenant), 0)
""")

_DF = text("SELECT lexeme, df FROM search_terms WHERE tenant_id = :tenant AND lexeme = ANY(CAST(:terms AS text[]))")

MESSAGE, PASSAGE = "message", "passage"


@dataclass(frozen=True, slots=True)
class RankedRow:
    kind: str  # MESSAGE (ref = message id) or PASSAGE (ref = document id, part = passage number)
    ref: int
    part: int
    score: float
    matched: tuple[str, ...]  # query terms the row contains, as indexed


@dataclass(slots=True)
class Ranking:
    rows: list[RankedRow] = field(default_factory=list)
    withheld: int = 0  # better-scoring rows the reader may not see, at most k
    messages: int = 0
    passages: int = 0
    idf: dict[str, float] = field(default_factory=dict)
    stages: int = 0  # queries needed before the unsearched terms could no longer change the top k

    @property
    def query_weight(self) -> float:
        """The question's whole idf weight; a term found nowhere weighs too (as in the in-process engine)."""
        return sum(self.idf.values())


def tsquery(terms: Sequence[str]) -> str:
    """An OR query of already-normalized terms, quoted so PostgreSQL takes them as they are."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return " | ".join(quoted)


def pairs_query(terms: Sequence[str]) -> str:
    """Documents holding at least two of `terms`."""
    return dnf_query([list(pair) for pair in itertools.combinations(terms, 2)])


def dnf_query(clauses: Sequence[Sequence[str]]) -> str:
    """An OR of ANDs: documents holding every term of at least one clause."""
    return " | ".join("(" + tsquery(clause).replace(" | ", " & ") + ")" for clause in clauses)


def beating(terms: Sequence[str], idfs: dict[str, float], floor: float) -> list[list[str]]:
    """The minimal sets of terms whose idfs add up to more than `floor`: a document must hold all of one
    of them to score above it. Terms come rarest first, so each set is found once, in order."""
    found: list[list[str]] = []

    def extend(start: int, chosen: list[str], total: float) -> None:
        for i in range(start, len(terms)):
            weight = idfs[terms[i]]
            if total + weight > floor:
                found.append([*chosen, terms[i]])  # minimal: its smallest idf is the last one added
            elif total + sum(idfs[t] for t in terms[i:]) > floor:
                extend(i + 1, [*chosen, terms[i]], total + weight)
            if len(found) > MAX_CLAUSES:
                return

    extend(0, [], 0.0)
    return found


def idf_needed(score: float, query_weight: float) -> float:
    """The idf sum a document's matched terms must exceed to score above `score`. A document holding terms of
    idf sum x scores below x * (x / query_weight) ** COORDINATION (BM25's tf part is below 1), which grows
    with x, so the bounds below compare idf sums against this instead of against the score itself."""
    if score <= 0 or query_weight <= 0:
        return score
    return float((score * query_weight ** COORDINATION) ** (1 / (1 + COORDINATION)))


def idf(total: int, df: int) -> float:
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


# What the reader may see, not the tenant's total: a count of everything would reveal how much exists
# in channels the reader cannot look into (privacy rule).
# Summed from per-channel counters the database keeps (migration 0015): counting the rows cost most of a search.
_VISIBLE = text("SELECT coalesce(sum(messages), 0) FROM search_channels WHERE tenant_id = :tenant "
                "AND channel_id = ANY(:allowed)")


class SearchStore:
    """Queries of the PostgreSQL search engine. Writes to messages need nothing from here: the database
    derives their tsvector and statistics itself; document passages are handed in by the retriever."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def rank(self, tenant_id: str, terms: Sequence[str], allowed: Collection[int], k: int,
                   *, ts_rank: bool = False, exhaustive: bool = False) -> Ranking:
        """Top-k visible rows for the OR of `terms` (normalized, distinct), scored with BM25, plus how
        many rows the reader may not see would have ranked above the k-th. `exhaustive` scores every
        candidate in one query: the reference the bounded search must equal (tests, benchmark)."""
        async with self.db.session() as s:
            messages, passages, total_len = (await s.execute(_STATS, {"tenant": tenant_id})).one()
            dfs: dict[str, int] = {str(t): int(n) for t, n in
                                   (await s.execute(_DF, {"tenant": tenant_id, "terms": list(terms)})).tuples()}
            total = int(messages) + int(passages)
            visible = await s.scalar(_VISIBLE, {"tenant": tenant_id, "allowed": sorted(allowed)})
            ranking = Ranking(messages=int(visible or 0), passages=int(passages),
                              idf={t: idf(total, int(dfs.get(t, 0))) for t in terms})
            present = sorted((t for t in terms if dfs.get(t)), key=lambda t: (dfs[t], t))
            if not present or k <= 0:
                return ranking
            params = {"tenant": tenant_id, "terms": present, "idfs": [ranking.idf[t] for t in present],
                      "allowed": sorted(allowed), "k": k, "avgdl": max(1.0, int(total_len) / max(total, 1)),
                      "query_weight": ranking.query_weight}
            if ts_rank:
                rows = (await s.execute(_TS_RANK, params | {"query": tsquery(present)})).all()
                ranking.rows = [RankedRow(MESSAGE, int(r.ref), 0, float(r.score), tuple(r.matched)) for r in rows]
                ranking.stages = 1
                return ranking
            top, rows = [], []
            if exhaustive:
                ranking.stages = 1
                rows = (await s.execute(_RANK, params | {"query": tsquery(present)})).all()
                top = [r for r in rows if r.kind >= 0]
            elif len(present) >= 2:  # a floor from documents holding two or more terms
                ranking.stages += 1
                rows = (await s.execute(_RANK, params | {"query": pairs_query(present[:PAIR_TERMS])})).all()
                top = [r for r in rows if r.kind >= 0]
            if exhaustive:
                pass
            elif len(top) >= k:
                clauses = beating(present, ranking.idf, idf_needed(top[-1].score, ranking.query_weight))
                if len(clauses) <= MAX_CLAUSES:
                    ranking.stages += 1
                    rows = (await s.execute(_RANK, params | {"query": dnf_query(clauses)})).all()
                    top = [r for r in rows if r.kind >= 0]
                else:
                    top, rows = await self._rarest_first(s, params, present, ranking, k)
            else:
                top, rows = await self._rarest_first(s, params, present, ranking, k)
        ranking.rows = [RankedRow(MESSAGE if r.kind == 0 else PASSAGE, int(r.ref), int(r.part), float(r.score),
                                  tuple(r.matched or ())) for r in top]
        ranking.withheld = next((int(r.ref) for r in rows if r.kind < 0), 0)
        return ranking

    @staticmethod
    async def _rarest_first(s: AsyncSession, params: dict[str, Any], present: list[str], ranking: Ranking,
                            k: int) -> tuple[list[Row[Any]], list[Row[Any]]]:
        """MaxScore: search the rarest terms first, until the terms left out could not reach the k-th score."""
        essential = 1
        while True:
            ranking.stages += 1
            rows = list((await s.execute(_RANK, params | {"query": tsquery(present[:essential])})).all())
            top = [r for r in rows if r.kind >= 0]
            floor = idf_needed(top[-1].score, ranking.query_weight) if len(top) >= k else 0.0
            needed = len(present)
            while needed > 1 and sum(ranking.idf[t] for t in present[needed - 1:]) <= floor:
                needed -= 1
            if needed <= essential:
                return top, rows
            essential = needed

    async def replace_passages(self, tenant_id: str, document_id: int, channel_id: int | None,
                               passages: Sequence[str]) -> None:
        """Make a document's passages the searchable ones, in one transaction (readers see the old set
        or the new one, never a mix)."""
        async with self.db.session() as s:
            await s.execute(text("DELETE FROM search_passages WHERE document_id = :d"), {"d": document_id})
            if passages:
                await s.execute(text(
                    "INSERT INTO search_passages (tenant_id, document_id, part, channel_id, text) "
                    "VALUES (:tenant, :document, :part, :channel, :text)"),
                    [{"tenant": tenant_id, "document": document_id, "part": part, "channel": channel_id,
                      "text": passage} for part, passage in enumerate(passages)])

    async def rebuild_stats(self, tenant_id: str) -> tuple[int, int]:
        """Recount a tenant's statistics from its rows (repairs drift; the triggers keep them exact).
        The tenant's statistics row is locked first, so writers wait rather than count twice."""
        async with self.db.session() as s:
            await s.execute(text("INSERT INTO search_tenants (tenant_id) VALUES (:t) ON CONFLICT DO NOTHING"),
                            {"t": tenant_id})
            await s.execute(text("SELECT 1 FROM search_tenants WHERE tenant_id = :t FOR UPDATE"), {"t": tenant_id})
            await s.execute(text("DELETE FROM search_terms WHERE tenant_id = :t"), {"t": tenant_id})
            await s.execute(text("DELETE FROM search_channels WHERE tenant_id = :t"), {"t": tenant_id})
            await s.execute(text("""
                INSERT INTO search_channels (tenant_id, channel_id, messages)
                SELECT m.tenant_id, m.channel_id, count(*) FROM messages m
                WHERE m.tenant_id = :t AND NOT m.deleted AND m.decision_id IS NULL
                GROUP BY m.tenant_id, m.channel_id"""),
                {"t": tenant_id})
            await s.execute(text("""
                INSERT INTO search_terms (tenant_id, lexeme, df)
                SELECT :t, u.lexeme, count(*) FROM (
                  SELECT m.search_tsv AS tsv FROM messages m
                  WHERE m.tenant_id = :t AND NOT m.deleted AND m.decision_id IS NULL
                  UNION ALL SELECT p.search_tsv FROM search_passages p WHERE p.tenant_id = :t) AS d,
                  unnest(d.tsv) AS u
                GROUP BY u.lexeme"""), {"t": tenant_id})
            row = (await s.execute(text("""
                UPDATE search_tenants SET
                  messages = (SELECT count(*) FROM messages m
                              WHERE m.tenant_id = :t AND NOT m.deleted AND m.decision_id IS NULL),
                  passages = (SELECT count(*) FROM search_passages p WHERE p.tenant_id = :t),
                  total_len = (SELECT coalesce(sum(d.len), 0) FROM (
                    SELECT m.search_len AS len FROM messages m
                    WHERE m.tenant_id = :t AND NOT m.deleted AND m.decision_id IS NULL
                    UNION ALL SELECT p.search_len FROM search_passages p WHERE p.tenant_id = :t) AS d)
                WHERE tenant_id = :t RETURNING messages, passages"""), {"t": tenant_id})).one()
            return int(row[0]), int(row[1])

    async def tenants(self) -> list[str]:
        async with self.db.session() as s:
            return list((await s.scalars(text("SELECT id FROM tenants ORDER BY id"))).all())

    async def index_sizes(self) -> dict[str, int]:
        """Bytes on disk of what search adds: the GIN indexes, the passages and the statistics tables.
        (The tsvector column lives inside the messages table; its share is estimated from its values.)"""
        async with self.db.session() as s:
            row = (await s.execute(text("""
                SELECT pg_relation_size('ix_messages_search_tsv'),
                       pg_total_relation_size('search_passages'),
                       pg_total_relation_size('search_terms') + pg_total_relation_size('search_tenants')
                       + pg_total_relation_size('search_channels'),
                       (SELECT coalesce(sum(pg_column_size(search_tsv) + 4), 0) FROM messages),
                       pg_total_relation_size('messages')"""))).one()
        return {"gin_index": int(row[0]), "passages": int(row[1]), "statistics": int(row[2]),
                "tsvector_column": int(row[3]), "messages_total": int(row[4])}
