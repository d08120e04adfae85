"""postgres search: tsvector columns, GIN indexes and BM25 statistics kept current by triggers

PostgreSQL only (a no-op on SQLite, where the in-process index is the only search). Messages get a
generated `search_tsv`, so every insert, edit and soft delete is searchable the moment it commits,
whoever wrote it. Document passages (split by the retriever) live in `search_passages`. BM25 needs
document frequencies, a document count and an average length per tenant: statement-level triggers
with transition tables keep `search_terms` and `search_tenants` exact, one aggregated upsert per
statement (a 5,000-row bulk insert costs one upsert per distinct word, not one per row and word).

`whybot_tsvector(text)` tokenizes as bot/text.py does (the same word pattern, contractions cut, the same
stop words, short numbers dropped, Snowball English stems), so a message's lexemes are exactly the terms
the in-process index holds, and a query tokenized in Python finds them. PostgreSQL's own parser would not
do: it splits "us-east-1" and "v1.2" differently and its stop words differ, which shifts document lengths
and leaves query terms that match nothing yet weigh the most (measured: recall@5 0.16 below bm25s).
tests/bot/test_retrieval_postgres.py checks that the two tokenizers agree.

Revision ID: 0006_postgres_search
Revises: 0005_inbox
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006_postgres_search"
down_revision: str | None = "0005_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_LIVE = "NOT {t}.deleted AND {t}.decision_id IS NULL"  # history, not deleted, not whybot's replies

# bot/text.py's STOPWORDS when this migration was written (a test fails if the two drift apart).
STOPWORDS = (
    "a", "an", "and", "anyone", "are", "as", "at", "be", "but", "by", "can", "could", "d", "did", "do", "does",
    "for", "hello", "hey", "hi", "how", "i", "if", "in", "into", "is", "it", "know", "ll", "m", "me", "my", "no",
    "not", "of", "on", "or", "our", "please", "pls", "re", "s", "should", "such", "t", "tell", "thank", "thanks",
    "that", "the", "their", "then", "there", "these", "they", "this", "to", "us", "ve", "was", "we", "what", "when",
    "where", "which", "who", "why", "whybot", "will", "with", "would", "you", "your",
)
_STOP_ARRAY = "ARRAY[" + ", ".join(f"'{w}'" for w in STOPWORDS) + "]::text[]"

# Words as bot/text.py's _WORD finds them, lower-cased, contraction cut, kept when a content word or a
# number of 3+ digits. whybot_tsvector stems them with Snowball English (the stemmer PyStemmer wraps),
# one position per word so positions give tf; whybot_word_count is BM25's document length, stored so
# a query never has to unpack a candidate's whole tsvector to learn it.
WORDS_FUNCTION = r"""
CREATE FUNCTION whybot_words(body text) RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT w.word
  FROM (SELECT regexp_replace(lower(m[1]), '''(s|re|ll|ve|d|m|t)$', '') AS word
        FROM regexp_matches(body, '(\w[\w''\-]*\w|\w)', 'g') AS m) AS w
  WHERE CASE WHEN w.word ~ '^\d+$' THEN length(w.word) >= 3 ELSE w.word <> ALL (STOP_ARRAY) END
$fn$
""".replace("STOP_ARRAY", _STOP_ARRAY)

TSVECTOR_FUNCTION = r"""
CREATE FUNCTION whybot_tsvector(body text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path FROM CURRENT AS $fn$
  SELECT coalesce(string_agg(
           '''' || replace(replace(s.stem, '\', '\\'), '''', '''''') || ''':' || s.pos, ' ')::tsvector,
         ''::tsvector)
  FROM (SELECT (ts_lexize('whybot_english_stem', w))[1] AS stem, row_number() OVER () AS pos
        FROM whybot_words(body) AS w) AS s
$fn$
"""

WORD_COUNT_FUNCTION = """
CREATE FUNCTION whybot_word_count(body text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path FROM CURRENT AS $fn$ SELECT count(*)::integer FROM whybot_words(body) $fn$
"""

def _stats_sql(delta: str, counter: str) -> str:
    """Apply (tenant_id, tsv, len, sign) rows to the statistics. The tenant row is locked first, so
    concurrent writers of one tenant queue on it and never deadlock on word rows; tenants being
    deleted (a cascade in progress) are skipped, their statistics go with them."""
    return f"""
    INSERT INTO search_tenants AS s (tenant_id, messages, passages, total_len)
    SELECT d.tenant_id, {'sum(d.sign)' if counter == 'messages' else '0'},
           {'sum(d.sign)' if counter == 'passages' else '0'}, sum(d.sign * d.len)
    FROM ({delta}) AS d
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id)
    GROUP BY d.tenant_id ORDER BY d.tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET messages = s.messages + excluded.messages,
        passages = s.passages + excluded.passages, total_len = s.total_len + excluded.total_len;
    INSERT INTO search_terms AS s (tenant_id, lexeme, df)
    SELECT d.tenant_id, u.lexeme, sum(d.sign)
    FROM ({delta}) AS d, unnest(d.tsv) AS u
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = d.tenant_id)
    GROUP BY d.tenant_id, u.lexeme HAVING sum(d.sign) <> 0 ORDER BY d.tenant_id, u.lexeme
    ON CONFLICT (tenant_id, lexeme) DO UPDATE SET df = s.df + excluded.df;
    """


def _trigger_function(name: str, counter: str, live: str) -> str:
    """One statement-level trigger function for INSERT, UPDATE and DELETE on a searchable table."""
    old_live, new_live = live.format(t="o"), live.format(t="n")
    inserted = f"SELECT n.tenant_id, n.search_tsv AS tsv, n.search_len AS len, 1 AS sign FROM new_rows n WHERE {new_live}"
    deleted = f"SELECT o.tenant_id, o.search_tsv AS tsv, o.search_len AS len, -1 AS sign FROM old_rows o WHERE {old_live}"
    changed = (
        f"SELECT o.tenant_id, o.search_tsv AS tsv, o.search_len AS len, -1 AS sign "
        f"FROM old_rows o JOIN new_rows n ON n.id = o.id "
        f"WHERE {old_live} AND (NOT ({new_live}) OR n.search_tsv <> o.search_tsv) "
        f"UNION ALL "
        f"SELECT n.tenant_id, n.search_tsv, n.search_len, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id "
        f"WHERE {new_live} AND (NOT ({old_live}) OR n.search_tsv <> o.search_tsv)"
    )
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN {_stats_sql(inserted, counter)}
      ELSIF TG_OP = 'DELETE' THEN {_stats_sql(deleted, counter)}
      ELSE {_stats_sql(changed, counter)}
      END IF;
      RETURN NULL;
    END
    $fn$
    """


def _triggers(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_search_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_search_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_search_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


UPGRADE = [
    # Snowball English without a stop word file: the stop words are bot/text.py's, in whybot_tsvector.
    "CREATE TEXT SEARCH DICTIONARY whybot_english_stem (TEMPLATE = snowball, Language = english)",
    WORDS_FUNCTION,
    TSVECTOR_FUNCTION,
    WORD_COUNT_FUNCTION,
    "ALTER TABLE messages ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (whybot_tsvector(text)) STORED, "
    "ADD COLUMN search_len integer GENERATED ALWAYS AS (whybot_word_count(text)) STORED",
    "CREATE INDEX ix_messages_search_tsv ON messages USING gin (search_tsv) "
    "WHERE NOT deleted AND decision_id IS NULL",
    """CREATE TABLE search_passages (
        id bigserial PRIMARY KEY,
        tenant_id varchar(160) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        document_id integer NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        part integer NOT NULL,
        channel_id integer REFERENCES channels(id) ON DELETE CASCADE,
        text text NOT NULL,
        search_tsv tsvector GENERATED ALWAYS AS (whybot_tsvector(text)) STORED,
        search_len integer GENERATED ALWAYS AS (whybot_word_count(text)) STORED,
        CONSTRAINT uq_search_passages_part UNIQUE (document_id, part))""",
    "CREATE INDEX ix_search_passages_tsv ON search_passages USING gin (search_tsv)",
    """CREATE TABLE search_tenants (
        tenant_id varchar(160) PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        messages bigint NOT NULL DEFAULT 0,
        passages bigint NOT NULL DEFAULT 0,
        total_len bigint NOT NULL DEFAULT 0)""",
    """CREATE TABLE search_terms (
        tenant_id varchar(160) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        lexeme text NOT NULL,
        df bigint NOT NULL,
        PRIMARY KEY (tenant_id, lexeme))""",
    # Statistics of the messages already stored (passages come from `whybot db reindex`).
    f"""INSERT INTO search_tenants (tenant_id, messages, passages, total_len)
        SELECT m.tenant_id, count(*), 0, sum(m.search_len) FROM messages m
        WHERE {MESSAGE_LIVE.format(t='m')} GROUP BY m.tenant_id""",
    f"""INSERT INTO search_terms (tenant_id, lexeme, df)
        SELECT m.tenant_id, u.lexeme, count(*) FROM messages m, unnest(m.search_tsv) AS u
        WHERE {MESSAGE_LIVE.format(t='m')} GROUP BY m.tenant_id, u.lexeme""",
    _trigger_function("whybot_messages_search_stats", "messages", MESSAGE_LIVE),
    _trigger_function("whybot_passages_search_stats", "passages", "true"),
    *_triggers("messages", "whybot_messages_search_stats"),
    *_triggers("search_passages", "whybot_passages_search_stats"),
]

DOWNGRADE = [
    *(f"DROP TRIGGER IF EXISTS messages_search_{op_} ON messages" for op_ in ("ins", "upd", "del")),
    "DROP TABLE IF EXISTS search_terms",
    "DROP TABLE IF EXISTS search_tenants",
    "DROP TABLE IF EXISTS search_passages",
    "DROP FUNCTION IF EXISTS whybot_messages_search_stats()",
    "DROP FUNCTION IF EXISTS whybot_passages_search_stats()",
    "DROP INDEX IF EXISTS ix_messages_search_tsv",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_tsv, DROP COLUMN IF EXISTS search_len",
    "DROP FUNCTION IF EXISTS whybot_tsvector(text)",
    "DROP FUNCTION IF EXISTS whybot_word_count(text)",
    "DROP FUNCTION IF EXISTS whybot_words(text)",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS whybot_english_stem",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
