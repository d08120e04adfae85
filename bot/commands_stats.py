"""`whybot stats [--weeks N] [--tenant ID] [--json]`: engagement per week and this week's knowledge gaps,
the numbers App Home shows admins, for an operator with the database. It counts every conversation (the
operator reads the database anyway); App Home counts only what its viewer may see."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from pydantic import BaseModel

from bot.engagement import Engagement, WeekStats, engagement
from bot.gaps import KnowledgeGaps, knowledge_gaps
from bot.home import GAP_WINDOW
from bot.settings import Settings
from storage import DatabaseNotUpgraded, DatabaseUnavailable, Storage

MAX_WEEKS = 104


class TenantStats(BaseModel):
    tenant_id: str
    engagement: Engagement
    gaps: KnowledgeGaps


class Stats(BaseModel):
    generated_at: datetime
    tenants: list[TenantStats]


def _rate(week: WeekStats) -> str:
    votes = week.helpful + week.unhelpful
    return "-" if week.helpful_rate is None else f"{week.helpful_rate:.0%} ({week.helpful} of {votes})"


def text_report(stats: Stats) -> str:
    lines: list[str] = []
    for tenant in stats.tenants:
        lines += [f"{tenant.tenant_id}: engagement per week (Monday 00:00 UTC on; every conversation counted)",
                  f"{'week of':<12} {'asked':>6} {'answered':>8} {'declined':>8} {'failed':>6} {'helpful':>14} "
                  f"{'why? opens':>10} {'digest reads':>12}"]
        for w in reversed(tenant.engagement.weeks):
            label = f"{w.start:%Y-%m-%d}" + ("*" if w.partial else "")
            lines.append(f"{label:<12} {w.asked:>6} {w.answered:>8} {w.declined:>8} {w.failed:>6} {_rate(w):>14} "
                         f"{w.why_opens:>10} {w.digest_reads:>12}")
        lines += ["* this week so far. helpful: share of 👍 in whole-reply votes on that week's questions; digest "
                  "reads: people who opened Why? on or rated a digest, once per digest (a floor: Slack and Teams "
                  "do not tell a bot who read a message).", ""]
        gaps = tenant.gaps
        lines.append(f"Knowledge gaps, {gaps.start:%Y-%m-%d %H:%M} to {gaps.end:%Y-%m-%d %H:%M} UTC: "
                     f"{gaps.count} question{'s' if gaps.count != 1 else ''} declined or voted 👎, "
                     f"in {len(gaps.topics)} topic{'s' if len(gaps.topics) != 1 else ''}")
        for topic in gaps.topics:
            lines.append(f"  {topic.label} ({len(topic.gaps)})")
            for gap in topic.gaps:
                why = " and ".join("👎" if r == "unhelpful" else r for r in gap.reasons)
                question = " ".join(gap.question.split())
                lines.append(f"    {gap.asked_at:%Y-%m-%d %H:%M}  {gap.channel_name}  {why}  {question}  "
                             f"({gap.decision_id})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


async def collect(storage: Storage, tenants: list[str] | None, weeks: int, now: datetime) -> Stats:
    """Stats for the tenants named (a tenant id like slack:T123, or the platform's own id), or all."""
    known = await storage.workspace.list_tenants()
    chosen = known
    if tenants:
        chosen = []
        for wanted in tenants:
            match = [t for t in known if t == wanted or t.partition(":")[2] == wanted]
            if not match:
                raise LookupError(f"no workspace {wanted!r}; known: {', '.join(known) or 'none'}")
            chosen += [t for t in match if t not in chosen]
    return Stats(generated_at=now, tenants=[
        TenantStats(tenant_id=t, engagement=await engagement(storage, t, now, weeks=weeks),
                    gaps=await knowledge_gaps(storage, t, now - GAP_WINDOW, now)) for t in chosen])


async def _stats(args: argparse.Namespace) -> int:
    settings = Settings()
    storage = await Storage.open(args.database_url or settings.database_url)
    try:
        stats = await collect(storage, args.tenant, max(1, min(args.weeks, MAX_WEEKS)), datetime.now(UTC))
    except LookupError as exc:
        print(f"whybot stats: {exc.args[0]}", file=sys.stderr)
        return 1
    finally:
        await storage.close()
    print(stats.model_dump_json(indent=2) if args.json else text_report(stats), end="" if not args.json else "\n")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_stats(args))
    except (DatabaseNotUpgraded, DatabaseUnavailable) as exc:
        print(f"whybot: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stats", help="engagement per week and this week's knowledge gaps")
    p.add_argument("--weeks", type=int, default=4, help="how many weeks, this one included (default 4)")
    p.add_argument("--tenant", action="append",
                   help="a workspace: slack:T123, or just T123 (repeatable; default: every workspace)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    p.set_defaults(handler=cmd_stats)
