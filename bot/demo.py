"""The demo workspace `whybot demo` seeds: a small team with the kinds of threads a real one has.

Timestamps are relative to now so "last 24h" summaries and digests always have something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.ingest import Ingestor
from bot.models import Platform
from storage import NewMessage, Storage, tenant_key

DEMO_TENANT = "demo"
BOT_USER = "whybot"

PEOPLE: dict[str, tuple[str, str, str]] = {
    # id: (display name, role, time zone)
    "alice": ("Alice Chen", "Engineering lead", "Europe/Berlin"),
    "bob": ("Bob Okafor", "SRE", "Europe/London"),
    "carol": ("Carol Diaz", "Product manager", "America/New_York"),
    "dan": ("Dan Kowalski", "Support engineer", "Europe/Warsaw"),
    "erin": ("Erin Park", "Designer", "America/Los_Angeles"),
    "frank": ("Frank Moreau", "New backend engineer", "Europe/Paris"),
}

CHANNELS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    # id: (topic, private, members)
    "engineering": ("Building the product", False, ("alice", "bob", "carol", "erin", "frank")),
    "incidents": ("Outages and their follow-ups", False, ("alice", "bob", "dan")),
    "support": ("Customer questions", False, ("dan", "carol", "alice")),
    "announcements": ("Company news", False, tuple(PEOPLE)),
    "random": ("Everything else", False, tuple(PEOPLE)),
    "leadership": ("Private: leads only", True, ("alice", "carol")),
}


@dataclass(frozen=True)
class Line:
    channel: str
    user: str
    text: str
    hours_ago: float
    reply_to: int | None = None  # index of the thread root in THREADS
    reactions: int = 0


LINES: list[Line] = [
    # 0 incident with its resolution
    Line("incidents", "bob", "🚨 Incident: checkout API returning 502s for about 30% of requests since 09:40 UTC. "
         "I'm on it, paging <@alice>.", 20, reactions=4),
    Line("incidents", "alice", "Looking. Error rate started right after the 09:35 deploy of payments-gateway v2.14.",
         19.9, reply_to=0),
    Line("incidents", "bob", "Rolled back payments-gateway to v2.13 at 10:05; 502s are gone.", 19.6, reply_to=0,
         reactions=3),
    Line("incidents", "alice", "Root cause: v2.14 lowered the database connection pool from 50 to 5, so requests "
         "queued and the load balancer timed out. Fix is in review; postmortem on Thursday. "
         "https://wiki.example.com/postmortems/checkout-502", 18.5, reply_to=0, reactions=5),
    Line("incidents", "dan", "Thanks! I told the three customers who wrote in that it's resolved.", 18.0, reply_to=0),
    # 5 decision
    Line("engineering", "alice", "Decision on the billing service database: we decided to go with PostgreSQL 16. "
         "Redis stays only as a cache. Carol and Bob agreed in the design review.", 30, reactions=6),
    Line("engineering", "carol", "👍 Agreed, and the migration plan is in the design doc.", 29.5, reply_to=5),
    # 7 question answered
    Line("engineering", "frank", "How do I get access to the staging environment?", 6),
    Line("engineering", "bob", "Request it with the access form at https://it.example.com/staging-access and I "
         "approve it the same day. You'll need the VPN profile too.", 5.7, reply_to=7, reactions=2),
    Line("engineering", "frank", "Got it, thanks Bob!", 5.5, reply_to=7),
    # 10 release freeze with deadline
    Line("engineering", "carol", "Heads up: the release freeze for 3.2 starts Thursday at 18:00 UTC. Please cut "
         "your branches by Wednesday end of day; anything later waits for 3.3.", 10, reactions=8),
    Line("engineering", "erin", "Does the freeze include the new onboarding screens?", 9.5, reply_to=10),
    Line("engineering", "carol", "Yes, onboarding screens are in 3.2, so they need to be merged before the freeze.",
         9.2, reply_to=10),
    # 13 action items
    Line("engineering", "alice", "Action items from planning: <@bob> migrate the CI runners to the new cluster by "
         "Friday; <@dan> update the on-call runbook; <@erin> share the settings page mockups.", 26, reactions=2),
    # 14 unanswered question
    Line("engineering", "erin", "Does anyone know if the mobile app still supports iOS 15?", 3),
    # 15 support question answered
    Line("support", "dan", "Customer asks: what is our refund policy for annual plans?", 12),
    Line("support", "carol", "Annual plans can be refunded in full within 30 days through the billing portal; "
         "after that we refund the unused months pro rata.", 11.5, reply_to=15, reactions=1),
    # 17 announcements
    Line("announcements", "carol", "The office is closed next Monday for the public holiday. On-call continues "
         "as usual.", 28, reactions=10),
    Line("announcements", "alice", "New on-call rotation starts next week: Bob, then Frank (shadowing), then Alice. "
         "The schedule is in PagerDuty.", 15, reactions=3),
    # 19 chit-chat
    Line("random", "erin", "Who's up for lunch at the new ramen place? 🍜", 4, reactions=3),
    Line("random", "frank", "Me! haha, I've been waiting all week", 3.9, reply_to=19),
    Line("random", "dan", "Look at my cat judging my code review 😂", 2, reactions=7),
    # 22 private fact
    Line("leadership", "carol", "Confidential: the Q3 reorg plan merges the support and success teams under one "
         "director. Please don't share until the all-hands.", 8),
    Line("leadership", "alice", "Understood. We should tell Dan personally before the all-hands.", 7.5, reply_to=22),
    # 24 old thread, outside the 24 h window
    Line("engineering", "bob", "Reminder: the TLS certificates for api.example.com expire on the 30th; renewal is "
         "automated with cert-manager but check the dashboard.", 60),
]

DOCUMENTS: list[tuple[str, str, str]] = [
    ("docs/onboarding.md", "Onboarding guide",
     "Welcome to the team. On your first day, get a laptop from IT and set up the VPN profile. Staging access is "
     "requested with the access form; production access needs a manager's approval and takes two days. "
     "The weekly engineering sync is on Tuesdays at 15:00 UTC."),
    ("docs/oncall-runbook.md", "On-call runbook",
     "When the checkout API error rate goes above 5%, page the on-call SRE. First check the last deploy and roll "
     "back if it correlates. Database connection pool exhaustion shows up as 502s from the load balancer. "
     "Escalate to the engineering lead after 30 minutes."),
]


def _ts(moment: datetime, index: int) -> str:
    return f"{moment.timestamp():.6f}"[:-3] + f"{index:03d}"


async def seed_demo(ingest: Ingestor, storage: Storage, *, clock: Callable[[], datetime]) -> bool:
    """Seed the demo workspace once; returns False when it is already there."""
    tenant_id = tenant_key(Platform.PLAYGROUND.value, DEMO_TENANT)
    if await storage.workspace.tenant_exists(tenant_id):
        return False
    await ingest.tenant(Platform.PLAYGROUND.value, DEMO_TENANT, "Acme (demo)")
    for user_id, (name, _role, tz) in PEOPLE.items():
        await storage.workspace.upsert_user(tenant_id, user_id, name=user_id, display_name=name, tz=tz)
    await storage.workspace.upsert_user(tenant_id, BOT_USER, name=BOT_USER, display_name="whybot", is_bot=True)
    for channel_id, (topic, private, members) in CHANNELS.items():
        await storage.workspace.upsert_channel(tenant_id, channel_id, name=channel_id, is_private=private,
                                               topic=topic)
        await storage.workspace.set_members(tenant_id, channel_id, [*members, BOT_USER])
    now = clock()
    ids: list[str] = []
    for index, line in enumerate(LINES):
        created = now - timedelta(hours=line.hours_ago)
        ts = _ts(created, index)
        ids.append(ts)
        root = ids[line.reply_to] if line.reply_to is not None else None
        await ingest.message(tenant_id, NewMessage(
            channel_external_id=line.channel, external_id=ts, text=line.text, created_at=created,
            user_external_id=line.user, thread_external_id=root, reaction_count=line.reactions,
            mention_count=line.text.count("<@"), permalink=playground_permalink(line.channel, ts),
        ))
    for path, title, text in DOCUMENTS:
        await ingest.document(tenant_id, path, title, text)
    return True


def playground_permalink(channel: str, ts: str) -> str:
    return f"/#channel={channel}&message={ts}"
