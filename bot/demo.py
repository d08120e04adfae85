"""The demo workspace `whybot demo` seeds: Acme, a small company with the kinds of threads a real one has.

Twelve people with roles, public channels (#engineering, #incidents, #product, #support, #announcements,
#random, #deploys), private ones only some people are in (#leadership, #hiring), direct messages, and a
few documents: decisions and sign-offs, incidents with timelines and resolutions, questions answered and
one left unanswered. What they said is in `demo_workspace.txt` (see bot/demo_script.py); timestamps are
relative to now, so the last 24 hours always hold enough for a digest.

The playground's example buttons (`EXAMPLES`) are defined here, next to the data they ask about; a test
asks each of them and checks the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.demo_script import DEPLOY_BOT, DEPLOYS_CHANNEL, dm_channel, script
from bot.ingest import Ingestor
from bot.models import Platform
from storage import NewMessage, Storage, tenant_key

DEMO_TENANT = "demo"
DEMO_NAME = "Acme (demo)"
BOT_USER = "whybot"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    role: str
    tz: str


PEOPLE: dict[str, Person] = {
    "alice": Person("Alice Chen", "Engineering lead", "Europe/Berlin"),
    "bob": Person("Bob Okafor", "SRE", "Europe/London"),
    "carol": Person("Carol Diaz", "Product manager", "America/New_York"),
    "dan": Person("Dan Kowalski", "Support engineer", "Europe/Warsaw"),
    "erin": Person("Erin Park", "Designer", "America/Los_Angeles"),
    "frank": Person("Frank Moreau", "New backend engineer", "Europe/Paris"),
    "grace": Person("Grace Liu", "VP of Engineering", "America/New_York"),
    "hiro": Person("Hiro Tanaka", "Mobile engineer", "Asia/Tokyo"),
    "leo": Person("Leo Novak", "Security engineer", "Europe/Prague"),
    "maya": Person("Maya Johnson", "Customer success manager", "America/Los_Angeles"),
    "priya": Person("Priya Nair", "Data engineer", "Asia/Kolkata"),
    "sam": Person("Sam Rivera", "Head of People", "America/Chicago"),
}


@dataclass(frozen=True, slots=True)
class Channel:
    topic: str
    members: tuple[str, ...]
    private: bool = False
    kind: str = "channel"  # or "dm"


EVERYONE = tuple(PEOPLE)
CHANNELS: dict[str, Channel] = {
    "engineering": Channel("Building the product",
                           ("alice", "bob", "carol", "erin", "frank", "grace", "hiro", "leo", "priya")),
    "incidents": Channel("Outages and their follow-ups", ("alice", "bob", "dan", "frank", "grace", "leo", "priya")),
    "product": Channel("What we build next and why", ("alice", "carol", "dan", "erin", "grace", "hiro", "maya")),
    "support": Channel("Customer questions", ("alice", "carol", "dan", "frank", "leo", "maya")),
    "announcements": Channel("Company news", EVERYONE),
    "random": Channel("Everything else", EVERYONE),
    DEPLOYS_CHANNEL: Channel("Every production deploy", ("alice", "bob", "frank", "hiro", "priya", DEPLOY_BOT)),
    "leadership": Channel("Private: leads only", ("alice", "carol", "grace"), private=True),
    "hiring": Channel("Private: open roles and candidates", ("alice", "bob", "grace", "sam"), private=True),
    dm_channel("bob", "frank"): Channel("", ("bob", "frank"), private=True, kind="dm"),
    dm_channel("alice", "carol"): Channel("", ("alice", "carol"), private=True, kind="dm"),
    dm_channel("alice", "frank"): Channel("", ("alice", "frank"), private=True, kind="dm"),
    dm_channel("dan", "maya"): Channel("", ("dan", "maya"), private=True, kind="dm"),
    # Everyone's direct message with whybot, where it answers from all the asker may read.
    **{dm_channel(p, BOT_USER): Channel("", (p,), private=True, kind="dm") for p in PEOPLE},
}


@dataclass(frozen=True, slots=True)
class Example:
    """A question the playground offers as a button: who asks (None: whoever is picked), where, and what
    it shows. `in_thread` asks in the thread of the page's last answer (a follow-up)."""

    label: str
    text: str
    channel: str
    user: str | None = None
    in_thread: bool = False


EXAMPLES: tuple[Example, ...] = (
    Example("Ask a question", "@whybot when does the release freeze start?", "engineering"),
    Example("Ask it in other words", "@whybot when do we stop merging for 3.2?", "engineering"),
    Example("Follow up in the thread", "@whybot and who said that?", "engineering", in_thread=True),
    Example("Who decided?", "@whybot who decided on the billing database?", "engineering"),
    Example("Who knows?", "@whybot who knows about the CI runners?", "engineering"),
    Example("Summarize a channel", "/whybot summarize #incidents last 24h", "incidents"),
    Example("Today's digest", "/whybot digest now", "engineering"),
    Example("An honest “not found”", "@whybot does the mobile app still support iOS 15?", "engineering"),
    Example("Private channel, as a non-member", "@whybot what is the Q3 reorg plan?", "engineering", user="frank"),
    Example("Private channel, as a member", "@whybot what is the Q3 reorg plan?", "leadership", user="carol"),
    Example("In your DM with whybot", "what is the salary band for the senior SRE job?",
            dm_channel("sam", BOT_USER), user="sam"),
)


def _ts(moment: datetime, index: int) -> str:
    """A Slack-like message id: the time, with the line's index in the last digits so it is unique."""
    return f"{moment.timestamp():.6f}"[:-3] + f"{index:03d}"


async def seed_demo(ingest: Ingestor, storage: Storage, *, clock: Callable[[], datetime]) -> bool:
    """Seed the demo workspace once (a second run changes nothing); returns False when it is already there."""
    tenant_id = tenant_key(Platform.PLAYGROUND.value, DEMO_TENANT)
    if await storage.workspace.tenant_exists(tenant_id) and await storage.messages.count(tenant_id):
        return False
    await ingest.tenant(Platform.PLAYGROUND.value, DEMO_TENANT, DEMO_NAME)
    workspace = storage.workspace
    for user_id, person in PEOPLE.items():
        await workspace.upsert_user(tenant_id, user_id, name=user_id, display_name=person.name, tz=person.tz)
    await workspace.upsert_user(tenant_id, BOT_USER, name=BOT_USER, display_name="whybot", is_bot=True)
    await workspace.upsert_user(tenant_id, DEPLOY_BOT, name=DEPLOY_BOT, display_name="Deploy bot", is_bot=True)
    for channel_id, channel in CHANNELS.items():
        await workspace.upsert_channel(tenant_id, channel_id, name=channel_id, kind=channel.kind,
                                       is_private=channel.private, topic=channel.topic)
        await workspace.set_members(tenant_id, channel_id, [*channel.members, BOT_USER])
    now = clock()
    demo = script()
    assert len(demo.lines) < 1000, "_ts keeps three digits for the index"
    replies = Counter(line.reply_to for line in demo.lines if line.reply_to is not None)
    ids = [_ts(now - line.age, index) for index, line in enumerate(demo.lines)]
    await ingest.messages(tenant_id, [
        NewMessage(channel_external_id=line.channel, external_id=ids[index], text=line.text,
                   created_at=now - line.age, user_external_id=line.user,
                   thread_external_id=ids[line.reply_to] if line.reply_to is not None else None,
                   reaction_count=line.reactions, reply_count=replies[index], mention_count=line.text.count("<@"),
                   is_bot=line.is_bot, permalink=playground_permalink(line.channel, ids[index]))
        for index, line in enumerate(demo.lines)])
    for document in demo.documents:
        await ingest.document(tenant_id, document.path, document.title, document.text)
    await ingest.retriever.settle(tenant_id)  # the first example already finds by meaning (a fraction of a second)
    return True


def playground_permalink(channel: str, ts: str) -> str:
    return f"/#channel={channel}&message={ts}"
