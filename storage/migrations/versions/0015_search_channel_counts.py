"""search_channels: live history messages per channel, kept exact by statement-level triggers (PostgreSQL only)

The Why? says how many messages a search looked through, counted over the channels the reader may see (a
tenant-wide count would tell them how much exists where they cannot look). Counting those rows at every
search cost 55 ms at 200,000 messages and 180 ms at a million, most of a PostgreSQL search; summing a few
per-channel counters costs nothing. The triggers fire after 0006's statistics triggers of the same statement
(same event, names sorting after theirs), which have already locked the tenant's statistics row, so writers
of one tenant queue there and never deadlock on channel rows.

Revision ID: 0015_search_channel_counts
Revises: 0014_channel_rules
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0015_search_channel_counts"
down_revision: str | None = "0014_channel_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "NOT {t}.deleted AND {t}.decision_id IS NULL"  # history, not deleted, not whybot's replies (as in 0006)


def _apply(delta: str) -> str:
    return f"""
    INSERT INTO search_channels AS s (tenant_id, channel_id, messages)
    SELECT d.tenant_id, d.channel_id, sum(d.sign) FROM ({delta}) AS d
    WHERE EXISTS (SELECT 1 FROM channels c WHERE c.id = d.channel_id)
    GROUP BY d.tenant_id, d.channel_id HAVING sum(d.sign) <> 0 ORDER BY d.tenant_id, d.channel_id
    ON CONFLICT (tenant_id, channel_id) DO UPDATE SET messages = s.messages + excluded.messages;
    """


_NEW, _OLD = LIVE.format(t="n"), LIVE.format(t="o")
_INSERTED = f"SELECT n.tenant_id, n.channel_id, 1 AS sign FROM new_rows n WHERE {_NEW}"
_DELETED = f"SELECT o.tenant_id, o.channel_id, -1 AS sign FROM old_rows o WHERE {_OLD}"
_CHANGED = (f"SELECT o.tenant_id, o.channel_id, -1 AS sign FROM old_rows o WHERE {_OLD} "
            f"UNION ALL SELECT n.tenant_id, n.channel_id, 1 FROM new_rows n WHERE {_NEW}")

UPGRADE = [
    """CREATE TABLE search_channels (
        tenant_id varchar(160) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        channel_id integer NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        messages bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, channel_id))""",
    f"""INSERT INTO search_channels (tenant_id, channel_id, messages)
        SELECT m.tenant_id, m.channel_id, count(*) FROM messages m WHERE {LIVE.format(t='m')}
        GROUP BY m.tenant_id, m.channel_id""",
    f"""CREATE FUNCTION whybot_messages_channel_counts() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN {_apply(_INSERTED)}
      ELSIF TG_OP = 'DELETE' THEN {_apply(_DELETED)}
      ELSE {_apply(_CHANGED)}
      END IF;
      RETURN NULL;
    END
    $fn$""",
    "CREATE TRIGGER messages_search_ins_channels AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION whybot_messages_channel_counts()",
    "CREATE TRIGGER messages_search_upd_channels AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION whybot_messages_channel_counts()",
    "CREATE TRIGGER messages_search_del_channels AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION whybot_messages_channel_counts()",
]

DOWNGRADE = [
    *(f"DROP TRIGGER IF EXISTS messages_search_{op_}_channels ON messages" for op_ in ("ins", "upd", "del")),
    "DROP FUNCTION IF EXISTS whybot_messages_channel_counts()",
    "DROP TABLE IF EXISTS search_channels",
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
